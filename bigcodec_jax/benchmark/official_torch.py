"""Time the official PyTorch BigCodec (full size, random weights, float32, eval, no_grad) on CPU.

Run as a script by `benchmark infer --torch-ref` in an interpreter that has torch (it imports
nothing from bigcodec_jax, so that interpreter needs no JAX, and keeps its own copy of the timing
helper for that reason); prints one JSON line with the median seconds of encode (encoder +
quantizer) and decode (embedding + decoder) and the process's peak resident memory.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time


def _median_seconds(fn, repeats: int) -> tuple[float, float, object]:
    """(first call's seconds, median of `repeats` later calls, first result)."""
    start = time.perf_counter()
    result = fn()
    first = time.perf_counter() - start
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return first, statistics.median(runs), result


def _peak_gib() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, it does not count the parent before exec)."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 2 ** 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repo", required=True, help="checkout of github.com/Aria-K-Alethia/BigCodec")
    parser.add_argument("--batch", type=int, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import torch  # imported here: only this interpreter needs torch

    sys.path.insert(0, args.repo)
    from vq.codec_decoder import CodecDecoder
    from vq.codec_encoder import CodecEncoder

    torch.manual_seed(0)
    encoder, decoder = CodecEncoder().eval(), CodecDecoder().eval()
    wav = torch.rand(args.batch, 1, int(args.seconds * 16000)) - 0.5
    with torch.no_grad():
        _, encode, codes = _median_seconds(lambda: decoder(encoder(wav), vq=True)[1], args.repeats)
        embed = lambda: decoder.vq2emb(codes.permute(1, 2, 0)).transpose(1, 2)  # noqa: E731
        _, decode, _ = _median_seconds(lambda: decoder(embed(), vq=False), args.repeats)
    print(json.dumps({"encode_s": encode, "decode_s": decode, "threads": torch.get_num_threads(),
                      "torch": torch.__version__,
                      "peak_gib": _peak_gib()}))


if __name__ == "__main__":
    main()
