"""Measures X-Codec2 / NeuCodec long-audio chunking against the whole-clip run (docs/family.md, issue 29.5).

    python tests/scripts/family_windows.py agreement --family xcodec2 \
        --checkpoint /tmp/famgold_full/xcodec2_full.safetensors --seconds 25 --window 10 --contexts 1,2,3,4
    python tests/scripts/family_windows.py memory --family xcodec2 \
        --checkpoint /tmp/famgold_full/xcodec2_full.safetensors --seconds 60 --window 30

`agreement`: the packaged speech corpus's utterances joined into one clip of `--seconds`, encoded and decoded
whole and with a `--window` of seconds for each context (seconds each side); prints the fraction of codes equal
to the whole run's and the SI-SDR (dB) against the whole run's audio of the chunked decode of the whole run's
codes for each crossfade, and of the chunked encode + chunked decode (hard cut). `memory`: encode + decode of
the clip whole (`--window 0`) or windowed in this process; prints the peak resident memory (ru_maxrss) after
loading and at the end. Not a test: full-size runs take minutes and gigabytes.
"""
from __future__ import annotations

import argparse
import gc
import os
import resource
import sys
import time

import jax
import numpy as np

from bigcodec_jax import family_api
from bigcodec_jax.checkpoints import safetensors_format, torch_zip, xcodec2_layout
from bigcodec_jax.data.corpus import corpus_dir
from bigcodec_jax.io.audio_files import read_audio
from bigcodec_jax.xcodec2 import config as config_lib, windows
from bigcodec_jax.xcodec2.model import XCodec2Model
from bigcodec_jax.xcodec2.prepare import prepare

FADES_MS = (0, 20, 100, 500)


def speech(seconds: float) -> np.ndarray:
    """The corpus's utterances (held-out first, then training), joined until `seconds` of 16 kHz audio."""
    pieces, total = [], 0
    for part in ("heldout.txt", "train.txt"):
        for line in open(os.path.join(corpus_dir(), part)):
            wav, rate = read_audio(os.path.join(corpus_dir(), line.split("|")[0]))
            assert rate == 16000, rate
            pieces.append(wav.reshape(-1).astype(np.float32))
            total += pieces[-1].size
            if total >= seconds * 16000:
                return np.concatenate(pieces)[:round(seconds * 16000)]
    raise SystemExit(f"the corpus has only {total / 16000:.1f} s")


def load(family: str, checkpoint: str, window: float) -> family_api.XCodec2:
    read = safetensors_format.read_tensors if checkpoint.endswith(".safetensors") else torch_zip.load
    state = read(checkpoint)
    state = xcodec2_layout.normalised(state.get("state_dict", state))
    config, params = xcodec2_layout.to_params(state)
    assert config.family == family, config.family
    del state
    gc.collect()
    return family_api.XCodec2(config, params, window_seconds=window)


def si_sdr(estimate: np.ndarray, reference: np.ndarray) -> float:
    estimate, reference = estimate - estimate.mean(), reference - reference.mean()
    target = reference * (estimate @ reference) / (reference @ reference)
    return float(10 * np.log10((target @ target) / max(float((estimate - target) @ (estimate - target)), 1e-30)))


def maxrss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def agreement(args: argparse.Namespace) -> None:
    codec = load(args.family, args.checkpoint, args.window)
    wav = speech(args.seconds)
    t = time.time()
    codes = codec.encode(wav)
    audio = codec.decode(codes)[0]
    print(f"{args.family}: {wav.size / 16000:g} s, {codes.shape[-1]} frames, whole run {time.time() - t:.1f} s")
    print("| window (s) | context (s) | chunks | codes equal | SI-SDR decode, " +
          " / ".join(f"{f} ms" for f in FADES_MS) + " fade (dB) | SI-SDR encode + decode (dB) |")
    for context in args.contexts:
        codec.context_frames = round(context * codec.frame_rate)
        chunks = windows.plan(codes.shape[-1], codec.window_frames, codec.context_frames)
        chunked_codes = codec.encode(wav)
        assert chunked_codes.shape == codes.shape
        pieces = [np.asarray(codec._decode(codec.params, codes[:, :, c.start:c.stop], None))[0] for c in chunks]
        hard = codec.decode(codes)[0]
        assert np.array_equal(hard, windows.stitch(pieces, chunks, codec.output_hop, 0))
        sdrs = [si_sdr(windows.stitch(pieces, chunks, codec.output_hop, round(f * codec.output_sample_rate / 1000)),
                       audio) for f in FADES_MS]
        both = si_sdr(codec.decode(chunked_codes)[0], audio)
        print(f"| {args.window:g} | {context:g} | {len(chunks)} | {(chunked_codes == codes).mean():.4f} | " +
              " / ".join(f"{s:.1f}" for s in sdrs) + f" | {both:.1f} |", flush=True)


def memory(args: argparse.Namespace) -> None:
    codec = load(args.family, args.checkpoint, args.window or 10_000)
    wav = speech(args.seconds)
    loaded = maxrss_gb()
    t = time.time()
    codes = codec.encode(wav)
    codec.decode(codes)
    print(f"{args.family} {wav.size / 16000:g} s, window {args.window or 'whole'}: peak RSS {loaded:.2f} GB after "
          f"loading, {maxrss_gb():.2f} GB after encode + decode (+{maxrss_gb() - loaded:.2f} GB), "
          f"{time.time() - t:.0f} s")


def compiled(args: argparse.Namespace) -> None:
    """XLA's own account of the compiled passes (no weights needed): the temporary memory of encode and decode
    for the whole clip and for one window-sized chunk, the largest shape a windowed run of any length compiles."""
    config = config_lib.freeze(config_lib.model_config(args.family, "full"))
    model = XCodec2Model(config)
    wav, features = prepare(speech(1.0), args.family)
    params = jax.eval_shape(model.init, jax.random.PRNGKey(0), wav[None], features[None])["params"]
    frames = round(args.seconds * 50)
    window = round(args.window * 50)
    shape = jax.ShapeDtypeStruct
    for name, n, extra in (("whole", frames, 0), ("window", window, 1)):
        enc = jax.jit(lambda p, w, f: model.apply({"params": p}, w, f, method=XCodec2Model.encode_codes))
        dec = jax.jit(lambda p, c: model.apply({"params": p}, c, method=XCodec2Model.decode_codes))
        encode_in = (shape((1, (n + extra) * 320), np.float32), shape((1, n, 160), np.float32))
        for what, fn, shapes in (("encode", enc, encode_in), ("decode", dec, (shape((1, 1, n), np.int32),))):
            stats = fn.lower(params, *shapes).compile().memory_analysis()
            print(f"{args.family} {what} {name} ({n} frames): temporary {stats.temp_size_in_bytes / 2**30:.2f} GiB, "
                  f"output {stats.output_size_in_bytes / 2**20:.1f} MiB", flush=True)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("agreement", "memory", "compiled"))
    parser.add_argument("--family", choices=("xcodec2", "neucodec"), required=True)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--seconds", type=float, default=25.0)
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--contexts", type=lambda s: [float(x) for x in s.split(",")], default=[1.0, 2.0, 3.0])
    args = parser.parse_args(argv)
    {"agreement": agreement, "memory": memory, "compiled": compiled}[args.mode](args)


if __name__ == "__main__":
    main(sys.argv[1:])
