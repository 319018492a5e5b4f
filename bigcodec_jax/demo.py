"""`python -m bigcodec_jax.demo`: a codec round trip on a signal the project makes itself.

With no arguments it needs no download and no GPU: it builds a small randomly initialised codec
(`tiny_train`), so the output shows the machinery working, not trained audio quality. Give
`--checkpoint bigcodec.pt` (or a converted directory) to hear the real codec.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import soundfile as sf

from bigcodec_jax import BigCodec
from bigcodec_jax.audio import SAMPLE_RATE


def voiced_signal(seconds: float = 2.0, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A speech-like test signal: a gliding harmonic source with a slow syllable-rate envelope."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    f0 = 120 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    source = sum(np.sin(k * phase) / k for k in range(1, 20))
    envelope = 0.5 * (1 - np.cos(2 * np.pi * 3 * t)) * (t < seconds - 0.1)
    return (0.1 * source * envelope).astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bigcodec_jax.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", help="official .pt/.ckpt or converted directory (default: a random "
                                             "tiny_train codec)")
    parser.add_argument("--output", default="outputs/demo", help="where to write input.wav and reconstruction.wav")
    parser.add_argument("--seconds", type=float, default=2.0, help="length of the generated signal")
    args = parser.parse_args(argv)

    codec = BigCodec.from_pretrained(args.checkpoint) if args.checkpoint else BigCodec.random("tiny_train")
    wav = voiced_signal(args.seconds)
    start = time.perf_counter()
    codes = codec.encode(wav)
    recon = codec.decode(codes, length=len(wav))[0]
    elapsed = time.perf_counter() - start
    os.makedirs(args.output, exist_ok=True)
    sf.write(os.path.join(args.output, "input.wav"), wav, SAMPLE_RATE)
    sf.write(os.path.join(args.output, "reconstruction.wav"), recon, SAMPLE_RATE)
    bits = codes.shape[1] * np.log2(codec.codebook_size) * codes.shape[2] / args.seconds
    snr = 10 * np.log10(np.sum(wav ** 2) / max(np.sum((wav - recon) ** 2), 1e-12))
    print(f"codec: {'random tiny_train (untrained)' if not args.checkpoint else args.checkpoint}")
    print(f"{args.seconds:.2f} s of audio -> codes {codes.shape} (batch, quantizers, frames) -> "
          f"{recon.shape[0]} samples; {bits:.0f} bit/s; SNR {snr:.1f} dB; {elapsed:.1f} s including compilation")
    print(f"wrote {args.output}/input.wav and {args.output}/reconstruction.wav")
    return 0


if __name__ == "__main__":
    sys.exit(main())
