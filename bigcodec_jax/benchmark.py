"""`python -m bigcodec_jax.benchmark infer`: seconds of audio per second for encode, decode and both.

Uses the full-size model with random weights (speed does not depend on the values), times the
first call (compilation) separately, then the median of repeated calls. Peak memory is the
device's when it reports one, else the process's peak resident size.
"""
from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time

import jax
import numpy as np

from bigcodec_jax import BigCodec
from bigcodec_jax.audio import SAMPLE_RATE


def _peak_memory_gib() -> float:
    stats = jax.devices()[0].memory_stats() or {}
    if "peak_bytes_in_use" in stats:
        return stats["peak_bytes_in_use"] / 2 ** 30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20  # KiB on Linux


def _time(fn, repeats: int) -> tuple[float, float, object]:
    """(first call's seconds, median of `repeats` later calls, the result)."""
    start = time.perf_counter()
    result = fn()
    first = time.perf_counter() - start
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return first, statistics.median(runs), result


def infer(args: argparse.Namespace) -> None:
    print(f"device: {jax.devices()[0].device_kind} ({jax.default_backend()}), model: {args.variant}")
    print("dtype     batch  seconds  encode s/s  decode s/s  both s/s  compile s  peak GiB")
    for dtype in args.dtypes:
        codec = BigCodec.random(args.variant, dtype=dtype)
        for batch in args.batch_sizes:
            wav = np.random.default_rng(0).uniform(-0.5, 0.5, (batch, int(args.seconds * SAMPLE_RATE))).astype(np.float32)
            audio = batch * args.seconds
            enc_first, enc, codes = _time(lambda: codec.encode(wav), args.repeats)
            dec_first, dec, _ = _time(lambda: codec.decode(codes), args.repeats)
            compile_s = enc_first - enc + dec_first - dec
            print(f"{dtype:9s} {batch:5d} {args.seconds:8.1f} {audio / enc:11.2f} {audio / dec:11.2f} "
                  f"{audio / (enc + dec):9.2f} {compile_s:10.1f} {_peak_memory_gib():9.2f}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bigcodec_jax.benchmark", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("infer", help="encode/decode throughput")
    p.add_argument("--variant", default="full", help="model variant (default: the released full size)")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8, 32, 64])
    p.add_argument("--seconds", type=float, default=10.0, help="clip length")
    p.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"], choices=["float32", "bfloat16"])
    p.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    infer(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
