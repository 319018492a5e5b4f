"""Inference throughput: seconds of audio per second for encode, decode and both.

Uses the full-size model with random weights (speed does not depend on the values), times the
first call (compilation) separately, then the median of repeated calls. With `--torch-ref`, the
official PyTorch model is timed in the same run on the same clips (float32, CPU, in a separate
interpreter that has torch) and the ratio is printed.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import numpy as np

from bigcodec_jax import BigCodec, errors
from bigcodec_jax.audio import SAMPLE_RATE
from bigcodec_jax.config import VARIANTS
from bigcodec_jax.benchmark.common import device_line, peak_memory_gib, time_calls

OFFICIAL_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "official_torch.py")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--variant", default="full", choices=VARIANTS,
                   help="model variant (default: the released full size)")
    p.add_argument("--batch-sizes", type=errors.positive_int, nargs="+", default=[1, 8, 32, 64])
    p.add_argument("--seconds", type=errors.positive_seconds, default=10.0, help="clip length")
    p.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"], choices=["float32", "bfloat16"])
    p.add_argument("--repeats", type=errors.positive_int, default=3)
    p.add_argument("--torch-ref", metavar="PATH",
                   help="checkout of the official repository (Aria-K-Alethia/BigCodec): also time the official "
                        "model (full size, float32, CPU) for every batch size and print the ratio")
    p.add_argument("--torch-python", default=sys.executable,
                   help="interpreter with torch installed for --torch-ref (default: this one)")


def _official(args: argparse.Namespace, batch: int) -> dict:
    """The official model's timings for one batch size, from a separate interpreter."""
    cmd = [args.torch_python, OFFICIAL_SCRIPT, "--repo", args.torch_ref, "--batch", str(batch),
           "--seconds", str(args.seconds), "--repeats", str(args.repeats)]
    run = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if run.returncode != 0:
        raise SystemExit(f"timing the official model failed:\n{run.stderr}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def run(args: argparse.Namespace) -> None:
    errors.require(args.torch_ref is None or os.path.isdir(args.torch_ref),
                   f"argument --torch-ref: {args.torch_ref} is not a folder")
    print(f"{device_line()}, model: {args.variant}")
    print("dtype     batch  seconds  encode s/s  decode s/s  both s/s  compile s  peak GiB")
    ours = {}
    for dtype in args.dtypes:
        codec = BigCodec.random(args.variant, dtype=dtype)
        for batch in args.batch_sizes:
            shape = (batch, int(args.seconds * SAMPLE_RATE))
            wav = np.random.default_rng(0).uniform(-0.5, 0.5, shape).astype(np.float32)
            audio = batch * args.seconds
            enc_first, enc, codes = time_calls(lambda: codec.encode(wav), args.repeats)
            dec_first, dec, _ = time_calls(lambda: codec.decode(codes), args.repeats)
            compile_s = enc_first - enc + dec_first - dec
            ours[dtype, batch] = audio / (enc + dec)
            print(f"{dtype:9s} {batch:5d} {args.seconds:8.1f} {audio / enc:11.2f} {audio / dec:11.2f} "
                  f"{audio / (enc + dec):9.2f} {compile_s:10.1f} {peak_memory_gib():9.2f}", flush=True)
    if not args.torch_ref:
        return
    print("official PyTorch, float32, CPU (same clips, separate process)")
    print("batch  seconds  encode s/s  decode s/s  both s/s  peak GiB  threads  ours/official (float32)")
    for batch in args.batch_sizes:
        t = _official(args, batch)
        audio = batch * args.seconds
        both = audio / (t["encode_s"] + t["decode_s"])
        ratio = f"{ours['float32', batch] / both:.2f}x" if ("float32", batch) in ours else "-"
        print(f"{batch:5d} {args.seconds:8.1f} {audio / t['encode_s']:11.2f} {audio / t['decode_s']:11.2f} "
              f"{both:9.2f} {t['peak_gib']:9.2f} {t['threads']:8d}  {ratio}  (torch {t['torch']})", flush=True)
