"""Streaming cost: real-time factor of streaming encode and decode next to offline, first-output latency, compile.

Uses the full-size model with random weights (speed does not depend on the values). One clip is
pushed as a live source would: audio in pieces of `--push-ms`, codes as a language model would
make them (at each tick, the frames whose time has come: 1 or 2 frames per 20 ms tick, 6 or 7 per
80 ms). The real-time factor is compute seconds per second of audio (below 1 keeps up), next to
the offline `BigCodec.encode` / `decode` of the same clip timed in the same run before and after
the streams (the machine may be shared: compare within a run). First output: the audio time
that had to be pushed before the first output came (the lookahead plus up to one push) and the
compute of that push.

`--lookahead-table CHECKPOINT` measures the lower-latency mode instead: on the packaged corpus's
held-out utterances (or the audio files of `--speech FOLDER`, resampled to 16 kHz), each stream
pushed frame by frame (so every frame has exactly k frames of
lookahead), the codes' agreement with offline `encode` and the SI-SDR and mel distance of the
decoded audio against the offline reconstruction, for the decoder alone (offline codes) and for
encoder and decoder both streaming at k.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from bigcodec_jax import BigCodec, audio, data, errors
from bigcodec_jax.audio import SAMPLE_RATE
from bigcodec_jax.benchmark.common import device_line, peak_memory, time_calls
from bigcodec_jax.codec.config import VARIANTS
from bigcodec_jax.codec.stream_steps import stream_passes_for
from bigcodec_jax.evaluation.metrics import mel_distance, si_sdr
from bigcodec_jax.io import audio_files, inputs
from bigcodec_jax.streaming import DEFAULT_BLOCK_FRAMES


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--variant", default="full", choices=VARIANTS,
                   help="model variant (default: the released full size)")
    p.add_argument("--seconds", type=errors.positive_seconds, default=4.0, help="clip length")
    p.add_argument("--push-ms", type=errors.positive_milliseconds, nargs="+", default=[20.0, 80.0, 320.0],
                   help="push intervals")
    p.add_argument("--block-frames", type=errors.positive_int, nargs="+", default=list(DEFAULT_BLOCK_FRAMES),
                   help="block sizes the streams compile (default: the library's)")
    p.add_argument("--batch-size", type=errors.positive_int, default=1,
                   help="streams advancing together (the offline calls decode the same batch)")
    p.add_argument("--repeats", type=errors.positive_int, default=1, help="timed repeats of the offline calls")
    p.add_argument("--lookahead-table", metavar="CHECKPOINT",
                   help="instead of timing: the lower-latency mode's agreement with offline for this checkpoint")
    p.add_argument("--lookaheads", type=errors.non_negative_int, nargs="+", default=[0, 2, 4, 8, 16],
                   help="k for --lookahead-table")
    p.add_argument("--speech", metavar="FOLDER",
                   help="--lookahead-table on these audio files (any rate) instead of the packaged corpus's held-out "
                        "utterances")


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


def _frame_by_frame(s, x: np.ndarray, frames: np.ndarray, rate: int) -> np.ndarray:
    """Push rows of `x` (time last, `frames` each) one frame at a time, rows ending at their frames; flush."""
    out = [s.push(x[..., f * rate:(f + 1) * rate], lengths=np.where(f < frames, rate, 0))
           for f in range(int(frames.max()))]
    return np.concatenate(out + [s.flush()], axis=-1)


def _utterances(folder: str | None) -> tuple[list[tuple[np.ndarray, str]], str]:
    """(16 kHz audio, name) of every audio file under `folder`, or of the packaged corpus's held-out
    utterances when None; and a description of them."""
    if folder is None:
        return ([(w[:n], name) for b in data.eval_utterances(data.default_config())
                 for w, n, name in zip(b.wav, b.lengths, b.names)], "held-out utterances of the packaged corpus")
    utterances = []
    for path, name in inputs.expand_inputs([folder], audio_files.AUDIO_EXTENSIONS):
        try:  # read, checked and resampled as inference.py does
            utterances.append((audio.as_batch(*audio_files.read_audio(path))[0], name))
        except ValueError as e:
            raise errors.UsageError(f"{path}: {e}") from None
    errors.require(utterances, f"--speech {folder}: no audio files ({', '.join(audio_files.AUDIO_EXTENSIONS)})")
    return utterances, f"files of {folder}"


def lookahead_table(args: argparse.Namespace) -> None:
    codec = BigCodec.from_pretrained(args.lookahead_table)
    hop = codec.hop_length
    utterances, described = _utterances(args.speech)
    frames = np.array([-(-len(w) // hop) for w, _ in utterances])
    wav = np.zeros((len(utterances), frames.max() * hop), np.float32)
    for row, (w, _) in enumerate(utterances):
        wav[row, :len(w)] = w
    codes = codec.passes.encode.run(codec.params, wav, frames)
    recon = codec.passes.decode.run(codec.params, codes, frames)
    print(f"{len(utterances)} {described} ({sum(map(len, (w for w, _ in utterances))) / SAMPLE_RATE:.1f} s, "
          f"{wav.shape[1] / SAMPLE_RATE:.1f} s longest), {args.lookahead_table}; frame-by-frame pushes")
    print("| lookahead | latency | codes = offline | decoder alone: SI-SDR | mel distance | "
          "encoder + decoder: SI-SDR | mel distance |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    exact = codec.stream_encoder().lookahead_frames, codec.stream_decoder().lookahead_frames
    for k in [*args.lookaheads, None]:
        batch = len(utterances)
        streamed = _frame_by_frame(codec.stream_encoder(batch, lookahead_frames=k), wav, frames, hop)
        agree = np.mean(np.concatenate([(streamed[r, :, :f] == codes[r, :, :f]).ravel()
                                        for r, f in enumerate(frames)]))
        ms = 1000.0 * hop / SAMPLE_RATE
        row = ([f"exact ({exact[0]} / {exact[1]} frames)", f"{ms * exact[0]:.0f} / {ms * exact[1]:.0f} ms"]
               if k is None else [f"{k} frames", f"{ms * k:.1f} ms"]) + [f"{100 * agree:.1f} %"]
        for c in (codes, streamed):
            decoded = _frame_by_frame(codec.stream_decoder(batch, lookahead_frames=k), c, frames, 1)
            pairs = [(recon[r, :len(w)], decoded[r, :len(w)]) for r, (w, _) in enumerate(utterances)]
            row += [f"{np.mean([si_sdr(a, b) for a, b in pairs]):.1f} dB",
                    f"{np.mean([mel_distance(a, b) for a, b in pairs]):.3f}"]
        print("| " + " | ".join(row) + " |", flush=True)


def run(args: argparse.Namespace) -> None:
    if args.lookahead_table:
        return lookahead_table(args)
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

    enc_lookahead = codec.stream_encoder(batch, block_frames=blocks).latency_ms
    dec_lookahead = codec.stream_decoder(batch, block_frames=blocks).latency_ms
    print(f"lookahead: encode {enc_lookahead:.1f} ms, decode {dec_lookahead:.1f} ms")
    print("direction  push ms  RTF     x offline  median push ms  first output after (ms audio + ms compute)")
    results = []
    for push_ms in args.push_ms:
        e = _stream(codec.stream_encoder(batch, block_frames=blocks), wav, _pieces(wav.shape[1], push_ms * SAMPLE_RATE / 1000),
                    SAMPLE_RATE)
        d = _stream(codec.stream_decoder(batch, block_frames=blocks), codes, _pieces(codes.shape[2], push_ms / 1000 * SAMPLE_RATE / hop),
                    SAMPLE_RATE / hop)
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
