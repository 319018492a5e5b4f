"""Inference throughput: seconds of audio per second for encode, decode and both.

Uses the full-size model with random weights (speed does not depend on the values), times the
first call (compilation) separately, then the median of repeated calls.
"""
from __future__ import annotations

import argparse

import numpy as np

from bigcodec_jax import BigCodec
from bigcodec_jax.audio import SAMPLE_RATE
from bigcodec_jax.benchmark.common import device_line, peak_memory_gib, time_calls


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--variant", default="full", help="model variant (default: the released full size)")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8, 32, 64])
    p.add_argument("--seconds", type=float, default=10.0, help="clip length")
    p.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"], choices=["float32", "bfloat16"])
    p.add_argument("--repeats", type=int, default=3)


def run(args: argparse.Namespace) -> None:
    print(f"{device_line()}, model: {args.variant}")
    print("dtype     batch  seconds  encode s/s  decode s/s  both s/s  compile s  peak GiB")
    for dtype in args.dtypes:
        codec = BigCodec.random(args.variant, dtype=dtype)
        for batch in args.batch_sizes:
            wav = np.random.default_rng(0).uniform(-0.5, 0.5, (batch, int(args.seconds * SAMPLE_RATE))).astype(np.float32)
            audio = batch * args.seconds
            enc_first, enc, codes = time_calls(lambda: codec.encode(wav), args.repeats)
            dec_first, dec, _ = time_calls(lambda: codec.decode(codes), args.repeats)
            compile_s = enc_first - enc + dec_first - dec
            print(f"{dtype:9s} {batch:5d} {args.seconds:8.1f} {audio / enc:11.2f} {audio / dec:11.2f} "
                  f"{audio / (enc + dec):9.2f} {compile_s:10.1f} {peak_memory_gib():9.2f}", flush=True)
