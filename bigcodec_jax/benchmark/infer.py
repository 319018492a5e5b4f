"""Inference throughput: seconds of audio per second for encode, decode and both.

Random weights and clips already on the device; encode and decode compiled ahead and timed apart;
medians of `--repeats` runs after a warm-up, with the fraction of the machine's matmul rate reached.
`--torch-ref`: the official PyTorch model, interleaved with ours run by run (the same load for both).
`--trace DIR`: one more encode and decode of each row under `jax.profiler.trace`, for XProf or Perfetto.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Callable

import jax
import numpy as np

from bigcodec_jax import BigCodec, errors
from bigcodec_jax.audio import SAMPLE_RATE
from bigcodec_jax.benchmark.common import (DTYPES, add_model_arguments, add_torch_arguments, compile_timed,
                                           compiled_memory_gib, device_line, flops, load_average, matmul_rate,
                                           peak_memory)
from bigcodec_jax.benchmark.official_torch import OfficialModel, TorchProcess


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_arguments(p, seconds=10.0, repeats=3, batch_sizes=[1, 8, 32, 64], dtypes=list(DTYPES))
    p.add_argument("--trace", metavar="DIR", help="also write a jax.profiler trace of one encode and one decode "
                                                  "call of each row to DIR/<dtype>-b<batch>/")
    add_torch_arguments(p)


class CodecTimer:
    """The codec's whole-batch encode and decode (`codec.passes`) compiled for `batch` clips of `seconds`, on
    inputs already on the device (no host transfers, padding or chunking), timed one run at a time.
    `compile_s`, `flops` (one encode + decode, None if unknown) and `memory_gib` (the larger) come from XLA."""

    def __init__(self, codec: BigCodec, batch: int, seconds: float):
        self.audio_s = batch * seconds
        wav = np.random.default_rng(0).uniform(-0.5, 0.5, (batch, int(seconds * SAMPLE_RATE))).astype(np.float32)
        self._codec = codec
        self._wav = jax.device_put(wav)
        encode, decode = codec.passes.encode.whole, codec.passes.decode.whole  # (params, inputs, lengths)
        self._encode, encode_s = compile_timed(encode, codec.params, self._wav, None)
        self._codes = jax.block_until_ready(self._encode(codec.params, self._wav, None))
        self._decode, decode_s = compile_timed(decode, codec.params, self._codes, None)
        self.compile_s = encode_s + decode_s
        counts = [flops(self._encode), flops(self._decode)]
        self.flops = sum(counts) if None not in counts else None
        memory = [compiled_memory_gib(self._encode), compiled_memory_gib(self._decode)]
        self.memory_gib = max(memory) if None not in memory else None
        self.once()  # warm-up: first-run allocations are not part of the timings

    def once(self) -> tuple[float, float, float]:
        """(encode seconds, decode seconds, this process's CPU seconds for both) of one run each."""
        start, cpu = time.perf_counter(), time.process_time()
        jax.block_until_ready(self._encode(self._codec.params, self._wav, None))
        middle = time.perf_counter()
        jax.block_until_ready(self._decode(self._codec.params, self._codes, None))
        return middle - start, time.perf_counter() - middle, time.process_time() - cpu

    def runs(self, repeats: int) -> dict:
        """`summary` of `repeats` runs of both."""
        return summary(self.audio_s, *map(list, zip(*(self.once() for _ in range(repeats)))))


def summary(audio_s: float, encode_runs: list[float], decode_runs: list[float], cpu_runs: list[float]) -> dict:
    """Median seconds and seconds of audio per second of encode, decode and both; median CPU seconds of both
    (on a shared machine CPU time depends less on the other work than wall time)."""
    encode, decode = statistics.median(encode_runs), statistics.median(decode_runs)
    both = statistics.median([e + d for e, d in zip(encode_runs, decode_runs)])
    return {"encode_s": encode, "decode_s": decode, "both_s": both, "encode_audio_per_s": audio_s / encode,
            "decode_audio_per_s": audio_s / decode, "both_audio_per_s": audio_s / both, "runs": len(encode_runs),
            "both_cpu_s": statistics.median(cpu_runs)}


def interleaved(ours: Callable[[], tuple], official: TorchProcess | None, repeats: int) -> tuple[list, list]:
    """`repeats` runs of `ours()` and `official.once()` (if given) in turn: per side, (encode s, decode s, CPU s)
    lists, so that both see the same load."""
    runs = [fn() for _ in range(repeats) for fn in (ours, official.once if official else None) if fn is not None]
    return ([list(x) for x in zip(*runs[::1 + bool(official)])],
            [list(x) for x in zip(*runs[1::2])] if official else [])


def measure(codec: BigCodec, batch: int, seconds: float, repeats: int, official: OfficialModel | None = None,
            matmul_gflops: float | None = None, trace: str | None = None) -> dict:
    """One row: ours (and the official model's, interleaved run by run, when given) for `batch` x `seconds`;
    with `trace`, a profiler trace of one more call of ours written to that folder after the timed runs."""
    timer = CodecTimer(codec, batch, seconds)
    ours, theirs = interleaved(timer.once, official, repeats)
    row = {"dtype": codec.dtype, "batch": batch, "seconds": seconds, "status": "ok",
           **summary(timer.audio_s, *ours), "compile_s": timer.compile_s}
    peak, kind = peak_memory()
    row.update(peak_memory_gib=peak, peak_memory_kind=kind, compiled_memory_gib=timer.memory_gib,
               gflop_per_call=timer.flops and timer.flops / 1e9)
    if timer.flops:
        row["gflops_per_s"] = timer.flops / row["both_s"] / 1e9
        row["fraction_of_matmul_rate"] = matmul_gflops and row["gflops_per_s"] / matmul_gflops
    if official:
        row["official"] = {**summary(timer.audio_s, *theirs), **official.info}
        row["ratio_to_official"] = row["both_audio_per_s"] / row["official"]["both_audio_per_s"]
        row["cpu_ratio_to_official"] = row["official"]["both_cpu_s"] / row["both_cpu_s"]
    row["load_average"] = load_average()
    if trace:
        with jax.profiler.trace(trace, create_perfetto_trace=True):
            timer.once()
    return row


HEADER = ("dtype     batch  seconds  encode s/s  decode s/s  both s/s  compile s  GFLOP/s  of matmul  "
          "peak GiB  official s/s  ratio  CPU s ours/official")


def format_row(row: dict) -> str:
    official = row.get("official")
    fraction = row.get("fraction_of_matmul_rate")
    return (f"{row['dtype']:9s} {row['batch']:5d} {row['seconds']:8.1f} {row['encode_audio_per_s']:11.2f} "
            f"{row['decode_audio_per_s']:11.2f} {row['both_audio_per_s']:9.2f} {row['compile_s']:10.1f} "
            f"{row.get('gflops_per_s', float('nan')):8.1f} {fraction if fraction else float('nan'):9.0%}  "
            f"{row['peak_memory_gib']:8.2f} "
            + (f"{official['both_audio_per_s']:13.2f} {row['ratio_to_official']:5.2f}x  "
               f"{row['both_cpu_s']:.1f}/{official['both_cpu_s']:.1f} ({row['cpu_ratio_to_official']:.2f}x)"
               if official else f"{'-':>13s} {'-':>6s}"))


def run(args: argparse.Namespace) -> None:
    errors.require(args.torch_ref is None or os.path.isdir(args.torch_ref),
                   f"argument --torch-ref: {args.torch_ref} is not a folder")
    print(f"{device_line()}, model: {args.variant}")
    rate = matmul_rate("float32")
    print(f"achievable float32 matmul rate: {rate['gflops_per_s']:.0f} GFLOP/s ({rate['n']}^3, best of 5)\n"
          f"GFLOP/s: XLA's FLOP count of encode + decode over their time; peak GiB: {peak_memory()[1]}")
    if args.torch_ref:
        print(f"official PyTorch (float32, {args.torch_device}, separate process) interleaved run by run with ours")
    print(HEADER)
    for dtype in args.dtypes:
        codec = BigCodec.random(args.variant, dtype=dtype)
        for batch in args.batch_sizes:
            official = None
            if args.torch_ref and dtype == "float32":
                official = OfficialModel(args.torch_python, args.torch_ref, batch, args.seconds, args.torch_device)
            try:
                trace = args.trace and os.path.join(args.trace, f"{dtype}-b{batch}")
                row = measure(codec, batch, args.seconds, args.repeats, official, rate["gflops_per_s"], trace)
            finally:
                if official:
                    official.close()
            print(format_row(row), flush=True)
    print(f"load average at the end: {load_average()}" + (f"; traces in {args.trace}" if args.trace else ""))
