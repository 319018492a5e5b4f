"""Streaming cost: real-time factor of streaming encode and decode next to offline, first-output latency, compile.

Random weights. One clip is pushed as a live source would: audio in pieces of `--push-ms`, codes
as a language model makes them (at each tick, the frames whose time has come). The real-time factor
(compute seconds per second of audio) is shown next to offline `encode` / `decode` of the same clip,
timed in the same run before and after the streams. First output: the audio pushed before it came
(the lookahead plus up to one push) and the compute of that push.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from bigcodec_jax import BigCodec, errors
from bigcodec_jax.audio import SAMPLE_RATE
from bigcodec_jax.benchmark.common import add_model_arguments, device_line, peak_memory, time_calls
from bigcodec_jax.codec.stream_steps import stream_passes_for
from bigcodec_jax.streaming import DEFAULT_BLOCK_FRAMES


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_arguments(p, seconds=4.0, repeats=1)
    p.add_argument("--push-ms", type=errors.positive_milliseconds, nargs="+", default=[20.0, 80.0, 320.0],
                   help="push intervals")
    p.add_argument("--block-frames", type=errors.positive_int, nargs="+", default=list(DEFAULT_BLOCK_FRAMES),
                   help="block sizes the streams compile (default: the library's)")
    p.add_argument("--batch-size", type=errors.positive_int, default=1,
                   help="streams advancing together (the offline calls decode the same batch)")


def _pieces(total: int, per_tick: float) -> list[int]:
    """Piece sizes of a source that has `floor(i * per_tick)` steps ready at tick i."""
    edges = [min(int(i * per_tick), total) for i in range(int(np.ceil(total / per_tick)) + 1)]
    return [b - a for a, b in zip(edges, edges[1:])]


def _stream(s, x: np.ndarray, pieces: list[int], rate: float) -> dict:
    """Push `x` (time last) piece by piece, then flush: total compute, median push, first output."""
    times, first, i = [], None, 0
    for n in pieces:
        start = time.perf_counter()
        out = s.push(x[..., i:i + n])
        times.append(time.perf_counter() - start)
        i += n
        if first is None and out.shape[-1]:
            first = (1000.0 * i / rate, 1000.0 * times[-1])
    start = time.perf_counter()
    s.flush()
    flush = time.perf_counter() - start
    return dict(total=sum(times) + flush, push_ms=1000.0 * statistics.median(times), first=first)


def run(args: argparse.Namespace) -> None:
    print(f"{device_line()}, model: {args.variant}, clip {args.seconds:.1f} s, blocks {args.block_frames} frames, "
          f"load average at start {os.getloadavg()[0]:.1f}")
    codec = BigCodec.random(args.variant)
    hop, blocks, batch = codec.hop_length, tuple(args.block_frames), args.batch_size
    wav = np.random.default_rng(0).uniform(-0.5, 0.5, (batch, int(args.seconds * SAMPLE_RATE))).astype(np.float32)
    enc_first, enc_s, codes = time_calls(lambda: codec.encode(wav), args.repeats)
    dec_first, dec_s, _ = time_calls(lambda: codec.decode(codes), args.repeats)
    print(f"offline: encode RTF {enc_s / args.seconds:.3f}, decode RTF {dec_s / args.seconds:.3f} "
          f"(compile {enc_first - enc_s + dec_first - dec_s:.1f} s)", flush=True)

    # Warm-up: one stream per direction whose pushes use every block size compiles all the steps.
    passes = stream_passes_for(codec.config, codec.dtype)
    start = time.perf_counter()
    _stream(codec.stream_encoder(batch, block_frames=blocks), wav, [b * hop for b in blocks], SAMPLE_RATE)
    enc_compile = time.perf_counter() - start
    start = time.perf_counter()
    _stream(codec.stream_decoder(batch, block_frames=blocks), codes, list(blocks), SAMPLE_RATE / hop)
    dec_compile = time.perf_counter() - start
    print(f"stream warm-up (compiles {passes.encode.step._cache_size()} + {passes.decode.step._cache_size()} "
          f"block steps): encode {enc_compile:.1f} s, decode {dec_compile:.1f} s", flush=True)

    print(f"lookahead: encode {codec.stream_encoder(batch, block_frames=blocks).latency_ms:.1f} ms, "
          f"decode {codec.stream_decoder(batch, block_frames=blocks).latency_ms:.1f} ms")
    print("direction  push ms  RTF     x offline  median push ms  first output after (ms audio + ms compute)")
    results = []
    for push_ms in args.push_ms:
        e = _stream(codec.stream_encoder(batch, block_frames=blocks), wav,
                    _pieces(wav.shape[1], push_ms * SAMPLE_RATE / 1000), SAMPLE_RATE)
        d = _stream(codec.stream_decoder(batch, block_frames=blocks), codes,
                    _pieces(codes.shape[2], push_ms / 1000 * SAMPLE_RATE / hop), SAMPLE_RATE / hop)
        results.append((push_ms, e, d))
    _, enc_after, _ = time_calls(lambda: codec.encode(wav), args.repeats)
    _, dec_after, _ = time_calls(lambda: codec.decode(codes), args.repeats)
    enc_off, dec_off = (enc_s + enc_after) / 2, (dec_s + dec_after) / 2
    for push_ms, e, d in results:
        for name, r, off in (("encode", e, enc_off), ("decode", d, dec_off)):
            first = "-" if r["first"] is None else f"{r['first'][0]:.0f} + {r['first'][1]:.0f}"
            print(f"{name:10s} {push_ms:7.0f}  {r['total'] / args.seconds:6.3f}  {r['total'] / off:8.2f}x  "
                  f"{r['push_ms']:14.1f}  {first}", flush=True)
    print(f"offline (mean of before and after): encode RTF {enc_off / args.seconds:.3f} "
          f"(after {enc_after / args.seconds:.3f}), decode RTF {dec_off / args.seconds:.3f} "
          f"(after {dec_after / args.seconds:.3f}); peak {peak_memory()[0]:.2f} GiB; "
          f"load average at end {os.getloadavg()[0]:.1f}")
