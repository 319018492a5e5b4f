"""Compile time of encode + decode, at the options the codec's passes use against XLA's defaults, in one run.

Compiles the full-size (`--variant`) whole-batch encode and decode for `--batch-size` x `--seconds`,
with valid lengths (as `inference.py` runs them) and without (as `benchmark infer` does), once with
the passes' own compiler options (`codec/passes.py`: LLVM level 1 on CPU) and once with XLA's
defaults (`--baseline`), interleaved round by round; each round uses another length, so that no
compile is a cache hit. Then times the compiled programs of each setting against each other, run
by run, and checks that their codes and audio are bit-identical. Wall and CPU seconds are both
reported: on a shared machine CPU seconds depend much less on the other work.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import jax
import numpy as np

from bigcodec_jax import BigCodec, errors
from bigcodec_jax.audio import SAMPLE_RATE
from bigcodec_jax.benchmark.common import device_line, load_average
from bigcodec_jax.codec.passes import compiler_options
from bigcodec_jax.codec.config import VARIANTS


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--variant", default="full", choices=VARIANTS, help="model variant (default: the released full size)")
    p.add_argument("--batch-size", type=errors.positive_int, default=8)
    p.add_argument("--seconds", type=errors.positive_seconds, default=4.0, help="clip length")
    p.add_argument("--rounds", type=errors.positive_int, default=2, help="compiles of each setting (other lengths)")
    p.add_argument("--repeats", type=errors.positive_int, default=2, help="timed runs of each setting")
    p.add_argument("--baseline", default='{"xla_backend_optimization_level": 3}', type=json.loads,
                   help="compiler options to compare with, as JSON (default: XLA's default LLVM level, 3)")


def _compile(codec: BigCodec, wav: jax.Array, lengths: bool, options: dict | None) -> tuple:
    """(encode, decode, their arguments, wall seconds, CPU seconds) of one compile of both directions."""
    passes, batch, samples = codec.passes, wav.shape[0], wav.shape[1]
    hop = codec.hop_length
    samples_in = jax.device_put(np.full(batch, samples, np.int32)) if lengths else None
    frames_in = jax.device_put(np.full(batch, samples // hop, np.int32)) if lengths else None
    codes = jax.ShapeDtypeStruct((batch, codec.num_quantizers, samples // hop), np.int32)
    start, cpu = time.perf_counter(), time.process_time()
    encode = passes.encode.whole.lower(codec.params, wav, samples_in).compile(compiler_options=options)
    decode = passes.decode.whole.lower(codec.params, codes, frames_in).compile(compiler_options=options)
    return encode, decode, samples_in, frames_in, time.perf_counter() - start, time.process_time() - cpu


def run(args: argparse.Namespace) -> None:
    ours = compiler_options()
    print(f"{device_line()}, model: {args.variant}, batch {args.batch_size} x {args.seconds} s")
    print(f"passes' compiler options: {ours}; baseline: {args.baseline}")
    codec = BigCodec.random(args.variant)
    rng = np.random.default_rng(0)
    settings = {"passes": ours, "baseline": args.baseline}
    compiles: dict = {(name, lengths): [] for name in settings for lengths in (True, False)}
    programs: dict = {}
    for r in range(args.rounds):
        samples = (codec.seconds_to_frames(args.seconds) + r) * codec.hop_length  # a new shape each round
        wav = jax.device_put(rng.uniform(-0.5, 0.5, (args.batch_size, samples)).astype(np.float32))
        for lengths in (True, False):
            for name, options in settings.items():
                *program, wall, cpu = _compile(codec, wav, lengths, options)
                compiles[name, lengths].append((wall, cpu))
                programs[name, lengths] = (wav, *program)
                print(f"round {r + 1}: {name:8s} {'with' if lengths else 'without'} lengths: compile encode + decode "
                      f"{wall:5.1f} s ({cpu:5.1f} s CPU), load {load_average()[0]:.1f}", flush=True)
    print("setting   lengths  compile s (CPU s)  run s (CPU s)  audio s/s  bit-identical to the passes'")
    for lengths in (True, False):
        runs: dict = {name: [] for name in settings}
        outputs = {}
        for _ in range(args.repeats + 1):  # the first is a warm-up
            for name in settings:
                wav, encode, decode, samples_in, frames_in = programs[name, lengths]
                start, cpu = time.perf_counter(), time.process_time()
                codes = encode(codec.params, wav, samples_in)
                audio = np.asarray(decode(codec.params, codes, frames_in))
                runs[name].append((time.perf_counter() - start, time.process_time() - cpu))
                outputs[name] = (np.asarray(codes), audio)
        for name in settings:
            wall = statistics.median(w for w, _ in runs[name][1:])
            cpu = statistics.median(c for _, c in runs[name][1:])
            cw = statistics.median(w for w, _ in compiles[name, lengths])
            cc = statistics.median(c for _, c in compiles[name, lengths])
            same = all(np.array_equal(a, b) for a, b in zip(outputs[name], outputs["passes"]))
            print(f"{name:9s} {'yes' if lengths else 'no':7s} {cw:9.1f} ({cc:5.1f})  {wall:7.2f} ({cpu:5.2f})  "
                  f"{args.batch_size * wav.shape[1] / SAMPLE_RATE / wall:9.2f}  {same}")
    print(f"load average at the end: {load_average()}")
