"""The official PyTorch BigCodec (full size, random weights, float32, eval, no_grad), timed run by run.

`OfficialModel` runs this file in an interpreter that has torch (it imports nothing from
bigcodec_jax), one timed run per line `run` (so that ours and its interleave), each answered with a
JSON line: seconds of one encode (encoder + quantiser) and decode (embedding + decoder), CPU seconds
of both, peak memory (a GPU's peak allocation, else the peak resident memory).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

SCRIPT = os.path.abspath(__file__)


class TorchProcess:
    """A script run by the torch interpreter `python` with `argv`, asked one JSON line at a time; its reply to
    the first `run` (a warm-up) names torch's version, threads and device (`info`)."""

    def __init__(self, python: str, argv: list[str]):
        self._process = subprocess.Popen([python, *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, text=True)
        self.info = self.ask("run")
        self.info = {k: self.info[k] for k in ("torch", "threads", "device")}

    def ask(self, command: str) -> dict:
        """Send one line, return its JSON reply (RuntimeError with its stderr when the script has ended)."""
        try:
            self._process.stdin.write(command + "\n")
            self._process.stdin.flush()
        except BrokenPipeError:  # it has exited: its error is read below
            pass
        line = self._process.stdout.readline()
        if not line:
            error = self._process.stderr.read()
            self.close()
            raise RuntimeError(f"the official model failed:\n{error}")
        return json.loads(line)

    def once(self) -> tuple[float, float, float]:
        """(encode seconds, decode seconds, CPU seconds of both) of one run each."""
        reply = self.ask("run")
        self.info["peak_gib"] = reply["peak_gib"]
        return reply["encode_s"], reply["decode_s"], reply["cpu_s"]

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.stdin.close()
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


class OfficialModel(TorchProcess):
    """A running official model for `batch` clips of `seconds` (warmed up once), timed with `once()`."""

    def __init__(self, python: str, repo: str, batch: int, seconds: float, device: str = "cpu"):
        super().__init__(python, [SCRIPT, "--repo", repo, "--batch", str(batch), "--seconds", str(seconds),
                                  "--device", device])


def _peak_gib() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, it does not count the parent before exec)."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 2 ** 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repo", required=True, help="checkout of github.com/Aria-K-Alethia/BigCodec")
    parser.add_argument("--batch", type=int, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    import torch  # imported here: only this interpreter needs torch

    sys.path.insert(0, args.repo)
    from vq.codec_decoder import CodecDecoder
    from vq.codec_encoder import CodecEncoder

    torch.manual_seed(0)
    device = torch.device(args.device)
    encoder, decoder = CodecEncoder().eval().to(device), CodecDecoder().eval().to(device)
    wav = (torch.rand(args.batch, 1, int(args.seconds * 16000)) - 0.5).to(device)

    def timed(fn):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start, cpu = time.perf_counter(), time.process_time()
        result = fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start, time.process_time() - cpu, result

    for line in sys.stdin:
        if line.strip() != "run":
            continue
        with torch.no_grad():
            encode_s, encode_cpu_s, codes = timed(lambda: decoder(encoder(wav), vq=True)[1])
            emb = lambda: decoder.vq2emb(codes.permute(1, 2, 0)).transpose(1, 2)  # noqa: E731
            decode_s, decode_cpu_s, _ = timed(lambda: decoder(emb(), vq=False))
        if device.type == "cuda":  # the device's peak; its cache is freed for the JAX process sharing the device
            peak_gib = torch.cuda.max_memory_allocated() / 2 ** 30
            torch.cuda.empty_cache()
        else:
            peak_gib = _peak_gib()
        print(json.dumps({"encode_s": encode_s, "decode_s": decode_s, "cpu_s": encode_cpu_s + decode_cpu_s,
                          "threads": torch.get_num_threads(),
                          "torch": torch.__version__, "device": str(device), "peak_gib": peak_gib}), flush=True)


if __name__ == "__main__":
    main()
