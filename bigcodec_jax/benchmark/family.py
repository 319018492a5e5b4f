"""X-Codec2 / NeuCodec reconstruct throughput: the public API's encode then decode, against the official code.

Clips are crops of the packaged speech corpus (espeak-ng voices, 16 kHz), `--batch-sizes` x `--seconds`.
Ours is timed as a caller sees it: `encode` (the features on the host, then the jitted encoders) and
`decode`, both compiled for the shape by a first call (reported as `compile s`: the first call's time
less a steady one), then medians of `--repeats` runs. `--checkpoint`: a released file (X-Codec2's
`model.safetensors` or Lightning `.ckpt`, NeuCodec's `pytorch_model.bin`, with the semantic model's
tensors); without it, random weights at the released size. `--official-code`: the official model
(`official_family.py`) on the same checkpoint and clips, interleaved run by run, float32 only; it
encodes one clip a call and runs all 24 w2v-BERT layers. Its codes and audio are compared with ours.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

from bigcodec_jax import data, errors
from bigcodec_jax.benchmark.common import DTYPES, device_line, load_average, peak_memory
from bigcodec_jax.benchmark.infer import interleaved, summary
from bigcodec_jax.benchmark.official_torch import TorchProcess
from bigcodec_jax.data.corpus import HELDOUT_LIST, TRAIN_LIST
from bigcodec_jax.data.sources import list_source
from bigcodec_jax.family_api import XCodec2

FAMILIES = ["xcodec2", "neucodec"]
SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "official_family.py")
GOLDEN_SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                             "tests", "golden", "make_family_golden.py")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="xcodec2", choices=FAMILIES)
    p.add_argument("--checkpoint", help="released checkpoint file (default: random weights, full size)")
    p.add_argument("--seconds", type=errors.positive_seconds, default=4.0, help="clip length")
    p.add_argument("--batch-sizes", type=errors.positive_int, nargs="+", default=[2])
    p.add_argument("--dtypes", nargs="+", default=["float32"], choices=DTYPES)
    p.add_argument("--repeats", type=errors.positive_int, default=3, help="timed runs after a warm-up")
    p.add_argument("--official-code", metavar="DIR", help="the folder holding the `xcodec2` pip package (X-Codec2) "
                                                          "or a neucodec checkout: also time the official model")
    p.add_argument("--official-python", default=sys.executable, help="interpreter with torch and transformers")
    p.add_argument("--w2v-bert", metavar="DIR", help="local facebook/w2v-bert-2.0 for the official model "
                                                     "(default: w2v_bert_full/ beside the checkpoint)")
    p.add_argument("--golden-script", default=GOLDEN_SCRIPT, help="make_family_golden.py (its stand-ins)")


def load(model: str, checkpoint: str | None, dtype: str) -> XCodec2:
    """Ours on the checkpoint's weights, or random weights at the released size."""
    if checkpoint is None:
        return XCodec2.random(model, "full", dtype=dtype)
    from bigcodec_jax.checkpoints import safetensors_format, torch_zip, xcodec2_layout

    if safetensors_format.is_safetensors(checkpoint):
        state = safetensors_format.read_tensors(checkpoint)
    else:
        state = torch_zip.load(checkpoint)
        state = state.get("state_dict", state)
    codec = XCodec2(*xcodec2_layout.to_params(xcodec2_layout.normalised(state)), dtype=dtype)
    errors.require(codec.family == model, f"argument --checkpoint: a {codec.family} checkpoint, not {model}")
    return codec


def speech(batch: int, seconds: float) -> np.ndarray:
    """`(batch, seconds * 16000)` float32: crops of the packaged corpus played back to back, evenly spaced."""
    sources = [list_source(os.path.join(data.corpus_dir(), name), "corpus") for name in (TRAIN_LIST, HELDOUT_LIST)]
    corpus = np.concatenate([s.read(i) for s in sources for i in range(len(s))])
    samples = round(seconds * 16000)
    starts = np.arange(batch) * (len(corpus) // batch)
    return np.stack([np.take(corpus, np.arange(s, s + samples), mode="wrap") for s in starts]).astype(np.float32)


class FamilyTimer:
    """`codec.encode` then `codec.decode` of `wavs`, compiled by a first call, timed one run at a time."""

    def __init__(self, codec: XCodec2, wavs: np.ndarray):
        self.codec, self.wavs, self.audio_s = codec, wavs, wavs.size / 16000
        start = time.perf_counter()
        self.codes = codec.encode(wavs)
        self.audio = codec.decode(self.codes)
        self.compile_s = time.perf_counter() - start - sum(self.once()[:2])  # the first call less a steady one

    def once(self) -> tuple[float, float, float]:
        """(encode seconds, decode seconds, this process's CPU seconds for both) of one run each."""
        start, cpu = time.perf_counter(), time.process_time()
        codes = self.codec.encode(self.wavs)
        middle = time.perf_counter()
        self.codec.decode(codes)
        return middle - start, time.perf_counter() - middle, time.process_time() - cpu


def parity(codes: np.ndarray, audio: np.ndarray, official: dict) -> dict:
    """Codes equal, and the largest audio difference relative to the official audio's peak."""
    theirs = official["audio"]
    return {"codes_equal": bool(np.array_equal(codes, official["codes"])), "frames": int(codes.shape[-1]),
            "audio_max_rel": float(np.abs(audio - theirs).max() / np.abs(theirs).max())}


def measure(codec: XCodec2, batch: int, seconds: float, repeats: int, official: TorchProcess | None = None,
            wavs: np.ndarray | None = None) -> dict:
    """One row: ours (and the official model's, interleaved run by run, with parity, when given)."""
    timer = FamilyTimer(codec, speech(batch, seconds) if wavs is None else wavs)
    ours, theirs = interleaved(timer.once, official, repeats)
    row = {"model": codec.family, "dtype": codec.dtype, "batch": batch, "seconds": seconds, "status": "ok",
           **summary(timer.audio_s, *ours), "compile_s": timer.compile_s}
    row["peak_memory_gib"], row["peak_memory_kind"] = peak_memory()
    if official:
        row["official"] = {**summary(timer.audio_s, *theirs), **official.info}
        row["ratio_to_official"] = row["both_audio_per_s"] / row["official"]["both_audio_per_s"]
        row["cpu_ratio_to_official"] = row["official"]["both_cpu_s"] / row["both_cpu_s"]
        with tempfile.TemporaryDirectory() as folder:
            official.ask(f"save {folder}/out.npz")
            row["parity"] = parity(timer.codes, timer.audio, dict(np.load(f"{folder}/out.npz")))
    row["load_average"] = load_average()
    return row


def start_official(args: argparse.Namespace, wavs: np.ndarray, folder: str) -> TorchProcess:
    """The official model on `args.checkpoint` and these clips, warmed up."""
    clips = os.path.join(folder, "clips.npy")
    np.save(clips, wavs)
    w2v_bert = args.w2v_bert or os.path.join(os.path.dirname(os.path.abspath(args.checkpoint)), "w2v_bert_full")
    return TorchProcess(args.official_python, [SCRIPT, "--model", args.model, "--code", args.official_code,
                                               "--checkpoint", args.checkpoint, "--w2v-bert", w2v_bert,
                                               "--golden-script", args.golden_script, "--clips", clips])


HEADER = ("model     dtype     batch  seconds  encode s/s  decode s/s  both s/s  compile s  peak GiB  "
          "official s/s  ratio  CPU s ours/official  codes  audio/peak")


def format_row(row: dict) -> str:
    official, same = row.get("official"), row.get("parity", {})
    return (f"{row['model']:9s} {row['dtype']:9s} {row['batch']:5d} {row['seconds']:8.1f} "
            f"{row['encode_audio_per_s']:11.2f} {row['decode_audio_per_s']:11.2f} {row['both_audio_per_s']:9.2f} "
            f"{row['compile_s']:10.1f} {row['peak_memory_gib']:9.2f} "
            + (f"{official['both_audio_per_s']:13.2f} {row['ratio_to_official']:5.2f}x  "
               f"{row['both_cpu_s']:.1f}/{official['both_cpu_s']:.1f} ({row['cpu_ratio_to_official']:.2f}x)  "
               f"{'equal' if same['codes_equal'] else 'DIFFER'}  {same['audio_max_rel']:.1e}"
               if official else f"{'-':>13s} {'-':>6s}"))


def run(args: argparse.Namespace) -> None:
    errors.require(args.official_code is None or args.checkpoint is not None,
                   "argument --official-code: needs --checkpoint (the same weights in both)")
    print(f"{device_line()}, model: {args.model} ({args.checkpoint or 'random weights, full size'})")
    if args.official_code:
        print("official PyTorch (float32, cpu, separate process, one clip an encode call) interleaved with ours")
    print(HEADER)
    for dtype in args.dtypes:
        codec = load(args.model, args.checkpoint, dtype)
        for batch in args.batch_sizes:
            wavs = speech(batch, args.seconds)
            with tempfile.TemporaryDirectory() as folder:
                official = start_official(args, wavs, folder) if args.official_code and dtype == "float32" else None
                try:
                    row = measure(codec, batch, args.seconds, args.repeats, official, wavs)
                finally:
                    if official:
                        official.close()
            print(format_row(row), flush=True)
        del codec
    print(f"load average at the end: {load_average()}; peak GiB: {peak_memory()[1]}")
