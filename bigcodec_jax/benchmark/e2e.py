"""End to end against the kernel: `inference.py reconstruct` over a folder next to the bare device passes.

Writes `--files` crops of the packaged synthetic corpus (log-uniform lengths; some at 44.1 and
48 kHz, so that resampling runs) and a random-weight checkpoint. In one process: compiles every
batch shape the run will use (timed apart), times the kernel (`benchmark infer`'s `CodecTimer`)
before and after, and runs the real command in-process (`inference.cli.main`; compilations during
it are counted, and should be none). Reports both rates and their ratio, in wall and CPU seconds.
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
from bigcodec_jax.benchmark.common import DTYPES, add_model_arguments, device_line, load_average, machine, peak_memory
from bigcodec_jax.benchmark.infer import CodecTimer
from bigcodec_jax.checkpoints import store
from bigcodec_jax.data.corpus import HELDOUT_LIST, TRAIN_LIST
from bigcodec_jax.data.sources import list_source
from bigcodec_jax.inference import cli
from bigcodec_jax.inference.batch_codec import BatchCodec
from bigcodec_jax.io import outputs, staged
from bigcodec_jax.io.audio_files import audio_info

RATES = (16000, 44100, 16000, 48000, 16000)  # file i is written at RATES[i % 5]
COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"
PASS_PROGRAM = "jit(codec_pass)"  # the codec's passes (codec/passes.py) as JAX names their compilations


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_arguments(p)
    p.add_argument("--dtype", default="float32", choices=DTYPES)
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


def write_speech_folder(folder: str, lengths: np.ndarray, seed: int) -> list[str]:
    """One file per length (seconds): a crop of the packaged corpus played back to back, at the rates of `RATES`."""
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
        name = os.path.join(f"speaker{i % 4}", f"{i:05d}.{'wav' if rate == 44100 else 'flac'}")
        os.makedirs(os.path.join(folder, os.path.dirname(name)), exist_ok=True)
        sf.write(os.path.join(folder, name), clip, rate, subtype="PCM_16")
        names.append(name)
    return names


def plan(batch: BatchCodec, frames: list[int]) -> dict:
    """The batches `inference.py` will run for clips of these frames (on its fitted ladder), and their padding."""
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
    """Backend compilations while `active`, from JAX's monitoring events: of the codec's passes (all compiled
    ahead of time: there should be none) and of other programs (small ones, loading the model)."""

    def __init__(self):
        self.active, self.passes, self.others, self.seconds = False, 0, 0, 0.0
        jax.monitoring.register_event_duration_secs_listener(self._event)

    def _event(self, name: str, seconds: float, fun_name: str = "", **_) -> None:
        if self.active and name == COMPILE_EVENT:
            self.passes += fun_name == PASS_PROGRAM
            self.others += fun_name != PASS_PROGRAM
            self.seconds += seconds


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
        rng = np.random.default_rng(args.seed)
        lengths = np.exp(rng.uniform(np.log(args.min_seconds), np.log(args.max_seconds), args.files))
        names = write_speech_folder(folder, lengths, args.seed)
        rates = collections.Counter(RATES[i % len(RATES)] for i in range(args.files))
        result["folder"] = f = {"files": args.files, "audio_s": float(lengths.sum()), "mean_s": float(lengths.mean()),
                                "min_s": float(lengths.min()), "max_s": float(lengths.max()),
                                "rates": {str(r): n for r, n in sorted(rates.items())}}
        print(f"{device_line()}, model: {args.variant} ({args.dtype}), batch {args.batch_size}\n"
              f"folder: {args.files} files of the packaged synthetic speech corpus, {f['min_s']:.1f} to "
              f"{f['max_s']:.1f} s (log-uniform, mean {f['mean_s']:.1f} s, {f['audio_s']:.0f} s in all), "
              f"{', '.join(f'{n} at {r} Hz' for r, n in f['rates'].items())}")

        codec = BigCodec.random(args.variant, dtype=args.dtype)
        store.save(checkpoint, codec.config, {"generator": jax.device_get(codec.params)})
        batch = BatchCodec(codec, args.batch_size, window_seconds=args.window)
        frames = [codec.num_frames(audio.resampled_length(*audio_info(os.path.join(folder, n))[:2])) for n in names]
        result["plan"] = planned = plan(batch, frames)
        start = time.perf_counter()
        batch.compile(shape for shape in planned["shapes"])
        result["compile"] = {"e2e_shapes": len(planned["shapes"]), "e2e_s": time.perf_counter() - start,
                             "persistent_cache": jax.config.jax_compilation_cache_dir}
        print(f"plan: {planned['batches']} batches ({planned['partial_batches']} partial), "
              f"{len(planned['shapes'])} shapes compiled in {result['compile']['e2e_s']:.1f} s; padded frames "
              f"{planned['padded_frames'] / planned['real_frames'] - 1:.1%} over the real ones "
              f"(bucket padding {planned['bucket_padding']:.1%}, empty rows {planned['empty_rows']:.1%})"
              + (f"; compile times may be loads from the persistent cache {jax.config.jax_compilation_cache_dir}"
                 if jax.config.jax_compilation_cache_dir else ""))

        seconds = codec.seconds_to_frames(args.kernel_seconds or float(lengths.mean())) * codec.hop_length \
            / audio.SAMPLE_RATE  # whole frames
        timer = CodecTimer(codec, args.batch_size, seconds)
        result["compile"]["kernel_s"] = timer.compile_s
        before = timer.runs(args.repeats)

        argv = ["reconstruct", folder, "--output", out, "--checkpoint", checkpoint, "--dtype", args.dtype,
                "--batch-size", str(args.batch_size), "--workers", str(args.workers), "--window", str(args.window)]
        load_before = load_average()
        compiles.active = True
        start, cpu = time.perf_counter(), time.process_time()
        status = cli.main(argv)
        command_s, command_cpu_s = time.perf_counter() - start, time.process_time() - cpu
        compiles.active = False
        written = sum(len(fs) for _, _, fs in os.walk(out))
        errors.require(status == 0 and written == args.files,
                       f"inference.py reconstruct failed (exit status {status}, {written} of {args.files} written)")

        after = timer.runs(args.repeats)
        result["kernel"] = kernel = {
            "batch": args.batch_size, "seconds": seconds, "before": before, "after": after,
            "both_audio_per_s": statistics.mean([before["both_audio_per_s"], after["both_audio_per_s"]]),
            "both_cpu_s_per_audio_s": statistics.mean([before["both_cpu_s"], after["both_cpu_s"]]) / timer.audio_s}
        audio_s = f["audio_s"]
        result["e2e"] = e2e = {
            "command_s": command_s, "command_audio_per_s": audio_s / command_s, "files_per_s": args.files / command_s,
            "command_cpu_s": command_cpu_s, "command_cpu_s_per_audio_s": command_cpu_s / audio_s,
            "pass_compilations": compiles.passes, "other_compilations": compiles.others,
            "compile_s": compiles.seconds, "load_average_before": load_before, "load_average_after": load_average()}
        result["ratio"] = e2e["command_audio_per_s"] / kernel["both_audio_per_s"]
        result["cpu_ratio"] = kernel["both_cpu_s_per_audio_s"] / e2e["command_cpu_s_per_audio_s"]
        result["peak_memory_gib"], result["peak_memory_kind"] = peak_memory()
        result["load_average_end"] = load_average()
        report(result)
        if args.output:
            staged.write_text(args.output, json.dumps(result, indent=1, default=str))
    finally:
        shutil.rmtree(root, ignore_errors=True)


def report(result: dict) -> None:
    e2e, kernel = result["e2e"], result["kernel"]
    print(f"kernel: {kernel['both_audio_per_s']:.2f} s of audio per s (batch {kernel['batch']} x "
          f"{kernel['seconds']:.2f} s, mean of before and after)\n"
          f"end to end: {e2e['command_audio_per_s']:.2f} s/s, {e2e['files_per_s']:.2f} files/s "
          f"({e2e['command_s']:.1f} s); compilations during it: {e2e['pass_compilations']} of the codec's passes, "
          f"{e2e['other_compilations']} others\n"
          f"ratio to the kernel: {result['ratio']:.1%}; in CPU seconds per second of audio (what counts on a shared "
          f"machine): {result['cpu_ratio']:.1%}\nload average at the end: {result['load_average_end']}")
