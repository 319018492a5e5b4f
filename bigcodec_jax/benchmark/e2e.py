"""End to end against the kernel: `inference.py reconstruct` over a folder next to the bare device passes.

Makes a folder of speech files in a temporary directory: crops of the packaged synthetic corpus
(`bigcodec_jax/data/corpus`, espeak-ng voices) played back to back, `--files` of them with lengths
spread log-uniformly over `--min-seconds` to `--max-seconds`, one in five at 44.1 kHz (wav) and one
in five at 48 kHz (FLAC) so that resampling runs, the rest 16 kHz FLAC, in a few subfolders. The
model has random weights (speed does not depend on the values), saved as a converted checkpoint.

Then, in one process:
1. compiles ahead of time every batch shape the run will use (`BatchCodec.compile`), timed apart;
2. times the kernel: `benchmark infer`'s `CodecTimer` (the whole-batch encode and decode on inputs
   already on the device) at the same batch size, `--repeats` runs before and as many after step 3;
3. runs the real command, `inference.py reconstruct FOLDER --output ...` (`inference.cli.main`,
   in-process so the compiled shapes are reused; compilations during it are counted, and should
   be none), and its batch loop's timings (`pipeline.Timings`).

Reports seconds of audio per second for both and their ratio, and where the end-to-end run loses
against the kernel: padding (the batches' padded frames against the files' real frames: bucket
padding and empty rows of partial batches), device time beyond the kernel's for the padded work,
the loop waiting for inputs or outputs (host work not overlapped), and the command's start-up
(loading the checkpoint, reading headers). `--output FILE.json` writes it all.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import statistics
import tempfile
import time

import jax
import numpy as np
import soundfile as sf

from bigcodec_jax import BigCodec, audio, data, errors
from bigcodec_jax.benchmark.common import load_average, machine, peak_memory
from bigcodec_jax.benchmark.infer import CodecTimer, summary
from bigcodec_jax.checkpoints import store
from bigcodec_jax.config import VARIANTS
from bigcodec_jax.data.corpus import HELDOUT_LIST, TRAIN_LIST
from bigcodec_jax.data.sources import list_source
from bigcodec_jax.inference import cli
from bigcodec_jax.inference.batch_codec import BatchCodec
from bigcodec_jax.inference.pipeline import Timings
from bigcodec_jax.io import outputs, staged
from bigcodec_jax.io.audio_files import audio_info

RATES = (16000, 44100, 16000, 48000, 16000)  # file i is written at RATES[i % 5]
SUBFOLDERS = 4
COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"
PASS_PROGRAM = "jit(codec_pass)"  # the codec's passes (codec/passes.py) as JAX names their compilations


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--variant", default="full", choices=VARIANTS, help="model variant (default: the released full size)")
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    p.add_argument("--files", type=errors.positive_int, default=200, help="generated files")
    p.add_argument("--min-seconds", type=errors.positive_seconds, default=1.0, help="shortest file")
    p.add_argument("--max-seconds", type=errors.positive_seconds, default=20.0, help="longest file")
    p.add_argument("--batch-size", type=errors.positive_int, default=8, help="files per batch (both sides)")
    p.add_argument("--kernel-seconds", type=errors.positive_seconds, default=None,
                   help="clip length of the kernel timing, rounded to whole frames (default: the files' mean)")
    p.add_argument("--repeats", type=errors.positive_int, default=2,
                   help="kernel runs before and as many after the end-to-end run (after one warm-up)")
    p.add_argument("--workers", type=errors.positive_int, default=4, help="inference.py --workers")
    p.add_argument("--window", type=errors.positive_seconds, default=30.0, help="inference.py --window")
    p.add_argument("--seed", type=int, default=0, help="seed of the file lengths and crops")
    p.add_argument("--output", metavar="FILE.json", help="also write the results to this JSON file")


def file_lengths(count: int, shortest: float, longest: float, seed: int) -> np.ndarray:
    """`count` lengths in seconds, log-uniform over [shortest, longest]."""
    rng = np.random.default_rng(seed)
    return np.exp(rng.uniform(np.log(shortest), np.log(longest), count))


def write_speech_folder(folder: str, lengths: np.ndarray, seed: int) -> list[str]:
    """One file per length: a crop of the packaged corpus played back to back, at the rates of `RATES`."""
    import librosa  # only here: it is slow to import

    sources = [list_source(os.path.join(data.corpus_dir(), name), "corpus") for name in (TRAIN_LIST, HELDOUT_LIST)]
    speech = np.concatenate([s.read(i) for s in sources for i in range(len(s))])
    rng = np.random.default_rng(seed + 1)
    names = []
    for i, seconds in enumerate(lengths):
        rate = RATES[i % len(RATES)]
        start = int(rng.integers(len(speech)))
        clip = np.take(speech, np.arange(start, start + round(seconds * audio.SAMPLE_RATE)), mode="wrap")
        if rate != audio.SAMPLE_RATE:
            clip = librosa.resample(clip, orig_sr=audio.SAMPLE_RATE, target_sr=rate)
        name = os.path.join(f"speaker{i % SUBFOLDERS}", f"{i:05d}.{'wav' if rate == 44100 else 'flac'}")
        os.makedirs(os.path.join(folder, os.path.dirname(name)), exist_ok=True)
        sf.write(os.path.join(folder, name), clip, rate, subtype="PCM_16")
        names.append(name)
    return names


def plan(batch: BatchCodec, frames: list[int]) -> dict:
    """The batches `inference.py` will run for clips of these frames (on the ladder it fits to them), and what
    their padding costs."""
    batch.fit_ladder(frames)
    batches = batch.batches(frames)
    shapes = [batch.batch_shape([frames[i] for i in b]) for b in batches]
    real = sum(frames)
    bucket_pad = sum(len(b) * size - sum(frames[i] for i in b) for b, (_, size) in zip(batches, shapes))
    empty_rows = sum((rows - len(b)) * size for b, (rows, size) in zip(batches, shapes))
    return {"batches": len(batches), "partial_batches": sum(len(b) < batch.batch_size for b in batches),
            "shapes": sorted(set(shapes)), "real_frames": real, "padded_frames": real + bucket_pad + empty_rows,
            "bucket_padding": bucket_pad / real, "empty_rows": empty_rows / real,
            "efficiency": real / (real + bucket_pad + empty_rows), "buckets": batch.buckets}


class CompileCounter:
    """Backend compilations while `active`, from JAX's monitoring events: those of the codec's passes (which
    should all have been compiled ahead of time) and of anything else (small programs loading the model)."""

    def __init__(self):
        self.active, self.passes, self.others, self.seconds = False, 0, 0, 0.0
        jax.monitoring.register_event_duration_secs_listener(self._event)

    def _event(self, name: str, seconds: float, fun_name: str = "", **_) -> None:
        if self.active and name == COMPILE_EVENT:
            if fun_name == PASS_PROGRAM:
                self.passes += 1
            else:
                self.others += 1
            self.seconds += seconds


def kernel_runs(timer: CodecTimer, repeats: int) -> dict:
    runs = [timer.once() for _ in range(repeats)]
    return summary(timer.audio_s, *map(list, zip(*runs)))


def run(args: argparse.Namespace) -> None:
    errors.require(args.min_seconds <= args.max_seconds, "argument --min-seconds: must not exceed --max-seconds")
    errors.require(args.max_seconds <= args.window, "argument --max-seconds: must not exceed --window (no chunking "
                                                    "here: the kernel is the whole-batch pass)")
    if args.output:
        outputs.prepare_output_dir(os.path.dirname(os.path.abspath(args.output)), "--output's folder")
    compiles = CompileCounter()
    result: dict = {"command": "python -m bigcodec_jax.benchmark e2e", "settings": vars(args).copy(),
                    "machine": machine()}
    root = tempfile.mkdtemp(prefix="bigcodec-e2e-benchmark-")
    try:
        folder, checkpoint, out = (os.path.join(root, d) for d in ("speech", "checkpoint", "reconstructed"))
        start = time.perf_counter()
        lengths = file_lengths(args.files, args.min_seconds, args.max_seconds, args.seed)
        names = write_speech_folder(folder, lengths, args.seed)
        rates = collections.Counter(RATES[i % len(RATES)] for i in range(args.files))
        result["folder"] = {"files": args.files, "audio_s": float(lengths.sum()), "mean_s": float(lengths.mean()),
                            "min_s": float(lengths.min()), "max_s": float(lengths.max()),
                            "rates": {str(r): n for r, n in sorted(rates.items())},
                            "made_s": time.perf_counter() - start}
        print(f"{machine_line(result['machine'])}, model: {args.variant} ({args.dtype}), batch {args.batch_size}")
        f = result["folder"]
        print(f"folder: {args.files} files of the packaged synthetic speech corpus, {f['min_s']:.1f} to "
              f"{f['max_s']:.1f} s (log-uniform, mean {f['mean_s']:.1f} s, {f['audio_s']:.0f} s in all), "
              f"{', '.join(f'{n} at {r} Hz' for r, n in f['rates'].items())}")

        codec = BigCodec.random(args.variant, dtype=args.dtype)
        store.save(checkpoint, codec.config, {"generator": jax.device_get(codec.params)})
        batch = BatchCodec(codec, args.batch_size, window_seconds=args.window)
        frames = [codec.num_frames(audio.resampled_length(*audio_info(os.path.join(folder, n))[:2]))
                  for n in names]
        result["plan"] = planned = plan(batch, frames)
        start = time.perf_counter()
        batch.compile(shape for shape in planned["shapes"])
        result["compile"] = {"e2e_shapes": len(planned["shapes"]), "e2e_s": time.perf_counter() - start,
                             "persistent_cache": jax.config.jax_compilation_cache_dir}
        if jax.config.jax_compilation_cache_dir:
            print(f"(a persistent compilation cache is set, {jax.config.jax_compilation_cache_dir}: compile times "
                  "may be loads from it)")
        print(f"plan: {planned['batches']} batches ({planned['partial_batches']} partial), "
              f"{len(planned['shapes'])} shapes compiled in {result['compile']['e2e_s']:.1f} s; padded frames "
              f"{planned['padded_frames'] / planned['real_frames'] - 1:.1%} over the real ones "
              f"(bucket padding {planned['bucket_padding']:.1%}, empty rows {planned['empty_rows']:.1%})")

        kernel_seconds = codec.seconds_to_frames(args.kernel_seconds or float(lengths.mean())) * codec.hop_length \
            / audio.SAMPLE_RATE  # whole frames
        timer = CodecTimer(codec, args.batch_size, kernel_seconds)
        result["compile"]["kernel_s"] = timer.compile_s
        before = kernel_runs(timer, args.repeats)
        print(f"kernel, before: {before['both_audio_per_s']:.2f} s/s (batch {args.batch_size} x {kernel_seconds:.2f} s, "
              f"encode {before['encode_audio_per_s']:.2f}, decode {before['decode_audio_per_s']:.2f}), "
              f"compile {timer.compile_s:.1f} s", flush=True)

        timings = Timings()
        argv = ["reconstruct", folder, "--output", out, "--checkpoint", checkpoint, "--batch-size",
                str(args.batch_size), "--dtype", args.dtype, "--workers", str(args.workers), "--window",
                str(args.window)]
        load_before = load_average()
        compiles.active = True
        start, cpu = time.perf_counter(), time.process_time()
        status = cli.main(argv, timings=timings)
        command_s, command_cpu_s = time.perf_counter() - start, time.process_time() - cpu
        compiles.active = False
        written = sum(len(fs) for _, _, fs in os.walk(out))
        errors.require(status == 0 and written == args.files,
                       f"inference.py reconstruct failed (exit status {status}, {written} of {args.files} written)")

        after = kernel_runs(timer, args.repeats)
        print(f"kernel, after: {after['both_audio_per_s']:.2f} s/s", flush=True)
        result["kernel"] = kernel = {"batch": args.batch_size, "seconds": kernel_seconds, "before": before,
                                     "after": after, "both_audio_per_s": statistics.mean(
                                         [before["both_audio_per_s"], after["both_audio_per_s"]])}
        kernel["both_cpu_s_per_audio_s"] = statistics.mean([before["both_cpu_s"], after["both_cpu_s"]]) / timer.audio_s
        result["e2e"] = e2e = end_to_end(result, timings, command_s, command_cpu_s, compiles, load_before)
        result["ratio"] = e2e["command_audio_per_s"] / kernel["both_audio_per_s"]
        result["loop_ratio"] = e2e["loop_audio_per_s"] / kernel["both_audio_per_s"]
        result["cpu_ratio"] = kernel["both_cpu_s_per_audio_s"] / e2e["command_cpu_s_per_audio_s"]
        result["loop_cpu_ratio"] = kernel["both_cpu_s_per_audio_s"] / e2e["loop_cpu_s_per_audio_s"]
        result["losses"] = losses(result, timings, command_s)
        result["peak_memory_gib"], result["peak_memory_kind"] = peak_memory()
        result["load_average_end"] = load_average()
        report(result)
        if args.output:
            with staged.staged_file(args.output) as tmp:
                _write_json(tmp, result)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def end_to_end(result: dict, timings: Timings, command_s: float, command_cpu_s: float, compiles: CompileCounter,
               load_before) -> dict:
    audio_s = result["folder"]["audio_s"]
    return {"command_s": command_s, "command_audio_per_s": audio_s / command_s, "loop_s": timings.wall,
            "loop_audio_per_s": audio_s / timings.wall, "command_cpu_s": command_cpu_s,
            "command_cpu_s_per_audio_s": command_cpu_s / audio_s, "loop_cpu_s": timings.cpu,
            "loop_cpu_s_per_audio_s": timings.cpu / audio_s, "starting_s": timings.starting,
            "waiting_for_results_s": timings.waiting_for_results, "waiting_for_inputs_s": timings.waiting_for_inputs,
            "waiting_for_outputs_s": timings.waiting_for_outputs,
            "batches": timings.batches, "pass_compilations": compiles.passes,
            "other_compilations": compiles.others, "compile_s": compiles.seconds,
            "load_average_before": load_before, "load_average_after": load_average()}


def losses(result: dict, timings: Timings, command_s: float) -> dict:
    """The end-to-end command's time against the kernel's for the same audio, split by cause (seconds).

    Wall seconds: the batches' time (starting them and waiting for their results) is what the kernel
    would take for the padded frames plus the rest (`batches_beyond_kernel_s`: masking the padding,
    host work between batches that the device did not hide, shapes slower than the kernel's), then
    the loop's waits, its own work and the command's start-up. CPU seconds (`cpu_*`), which other
    work on a shared machine changes much less: the kernel's for the audio and for the padding, the
    rest of the batch loop (on a CPU the host's reading, resampling and writing share the cores with
    the "device" work and cannot be hidden behind it), the start-up.
    """
    kernel, planned, e2e = result["kernel"], result["plan"], result["e2e"]
    audio_s, padded = result["folder"]["audio_s"], planned["padded_frames"] / planned["real_frames"]
    ideal, ideal_cpu = audio_s / kernel["both_audio_per_s"], audio_s * kernel["both_cpu_s_per_audio_s"]
    batches = timings.starting + timings.waiting_for_results
    return {"kernel_s": ideal, "padding_s": ideal * (padded - 1), "batches_beyond_kernel_s": batches - ideal * padded,
            "waiting_for_inputs_s": timings.waiting_for_inputs, "waiting_for_outputs_s": timings.waiting_for_outputs,
            "loop_other_s": timings.wall - batches - timings.waiting_for_inputs - timings.waiting_for_outputs,
            "start_up_s": command_s - timings.wall,
            "cpu_kernel_s": ideal_cpu, "cpu_padding_s": ideal_cpu * (padded - 1),
            "cpu_loop_beyond_kernel_s": e2e["loop_cpu_s"] - ideal_cpu * padded,
            "cpu_start_up_s": e2e["command_cpu_s"] - e2e["loop_cpu_s"]}


def machine_line(m: dict) -> str:
    return (f"device: {m['device']} ({m['backend']}), host: {m['host_cpu']}, {m['cpu_count']} cores, "
            f"load average {m['load_average'][0]:.2f}")


def report(result: dict) -> None:
    e2e, kernel, loss = result["e2e"], result["kernel"], result["losses"]
    print(f"kernel: {kernel['both_audio_per_s']:.2f} s of audio per s (mean of before and after)")
    print(f"end to end: {e2e['command_audio_per_s']:.2f} s/s for the whole command ({e2e['command_s']:.1f} s), "
          f"{e2e['loop_audio_per_s']:.2f} s/s for its batch loop ({e2e['loop_s']:.1f} s); "
          f"compilations during it: {e2e['pass_compilations']} of the codec's passes, {e2e['other_compilations']} "
          f"others ({e2e['compile_s']:.1f} s in all)")
    print(f"ratio to the kernel: {result['ratio']:.1%} (command), {result['loop_ratio']:.1%} (batch loop); in CPU "
          f"seconds per second of audio ({kernel['both_cpu_s_per_audio_s']:.3f} for the kernel, "
          f"{e2e['command_cpu_s_per_audio_s']:.3f} for the command, {e2e['loop_cpu_s_per_audio_s']:.3f} for its loop; "
          f"what counts on a shared machine): {result['cpu_ratio']:.1%} (command), {result['loop_cpu_ratio']:.1%} "
          "(batch loop)")
    print("where the command's time goes, wall seconds (the kernel's time for this audio first):")
    for key, label in (("kernel_s", "the kernel at its measured rate"), ("padding_s", "padding at the kernel's rate"),
                       ("batches_beyond_kernel_s", "batches beyond the kernel's rate (masking, host work "
                                                   "between batches, shapes, other load)"),
                       ("waiting_for_inputs_s", "waiting for inputs (read, resample)"),
                       ("waiting_for_outputs_s", "waiting for outputs after the last batch"),
                       ("loop_other_s", "the loop's own work"),
                       ("start_up_s", "start-up (checkpoint, headers)")):
        print(f"  {loss[key]:9.1f}  {label}")
    print("and CPU seconds:")
    for key, label in (("cpu_kernel_s", "the kernel's for this audio"), ("cpu_padding_s", "the kernel's for the padding"),
                       ("cpu_loop_beyond_kernel_s", "the rest of the batch loop (masking, reading, resampling, "
                                                    "writing, shapes)"),
                       ("cpu_start_up_s", "start-up (checkpoint, headers)")):
        print(f"  {loss[key]:9.1f}  {label}")
    print(f"load average at the end: {result['load_average_end']}")


def _write_json(path: str, result: dict) -> None:
    with open(path, "w") as f:
        json.dump(result, f, indent=1, default=lambda x: x.tolist() if hasattr(x, "tolist") else str(x))
