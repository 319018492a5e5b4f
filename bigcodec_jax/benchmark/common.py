"""What every benchmark shares: options, timing, compilation, FLOP counts, memory, the machine's description."""
from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from bigcodec_jax import errors
from bigcodec_jax.codec.config import VARIANTS

DTYPES = ["float32", "bfloat16"]


def add_model_arguments(p: argparse.ArgumentParser, seconds: float | None = None, seconds_help: str = "clip length",
                        repeats: int | None = None, batch_sizes: list[int] | None = None,
                        dtypes: list[str] | None = None) -> None:
    """`--variant`, and each of `--seconds`, `--repeats`, `--batch-sizes`, `--dtypes` given a default here."""
    p.add_argument("--variant", default="full", choices=VARIANTS,
                   help="model variant (default: the released full size)")
    if seconds is not None:
        p.add_argument("--seconds", type=errors.positive_seconds, default=seconds, help=seconds_help)
    if batch_sizes is not None:
        p.add_argument("--batch-sizes", type=errors.positive_int, nargs="+", default=batch_sizes)
    if dtypes is not None:
        p.add_argument("--dtypes", nargs="+", default=dtypes, choices=DTYPES)
    if repeats is not None:
        p.add_argument("--repeats", type=errors.positive_int, default=repeats, help="timed runs after a warm-up")


def add_torch_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--torch-ref", metavar="PATH",
                   help="checkout of the official repository (Aria-K-Alethia/BigCodec): also time the official "
                        "model (full size, float32) on the same clip sizes, interleaved with ours")
    p.add_argument("--torch-python", default=sys.executable,
                   help="interpreter with torch installed for --torch-ref (default: this one)")
    p.add_argument("--torch-device", default="cpu", help="torch device of the official model (cpu, cuda)")


def peak_memory() -> tuple[float, str]:
    """(GiB, what it is): the device's peak when it reports one (GPU/TPU), else the process's peak RSS."""
    stats = jax.devices()[0].memory_stats() or {}
    if "peak_bytes_in_use" in stats:
        return stats["peak_bytes_in_use"] / 2 ** 30, "device peak bytes in use (whole process so far)"
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20,  # KiB on Linux
            "host process peak resident set size (CPU backend: no device memory)")


def time_calls(fn: Callable[[], object], repeats: int) -> tuple[float, float, object]:
    """(first call's seconds, median of `repeats` later calls, the first result)."""
    start = time.perf_counter()
    result = fn()
    first = time.perf_counter() - start
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return first, statistics.median(runs), result


def compile_timed(jitted, *args) -> tuple[Any, float]:
    """(the compiled executable of `jitted` for `args`, seconds spent lowering and compiling)."""
    start = time.perf_counter()
    compiled = jitted.lower(*args).compile()
    return compiled, time.perf_counter() - start


def flops(compiled) -> float | None:
    """XLA's count of floating-point operations of one call of `compiled` (None when the backend has none)."""
    try:
        analysis = compiled.cost_analysis()
    except Exception:  # noqa: BLE001 - some backends do not implement it
        return None
    if isinstance(analysis, (list, tuple)):
        analysis = analysis[0] if analysis else None
    value = (analysis or {}).get("flops")
    return float(value) if value and value > 0 else None


def compiled_memory_gib(compiled) -> float | None:
    """Device memory one call of `compiled` needs by XLA's memory analysis (arguments + outputs + temporaries)."""
    try:
        m = compiled.memory_analysis()
        total = m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes - m.alias_size_in_bytes
    except Exception:  # noqa: BLE001 - some backends do not implement it
        return None
    return total / 2 ** 30


def matmul_rate(dtype: str = "float32", repeats: int = 5) -> dict:
    """This machine's achievable matmul rate: the best of `repeats` jitted `n x n @ n x n` products, `n` 2048
    on CPU and 8192 on accelerators (the plateau); float32 at full precision (no TF32 or bf16 passes)."""
    n = 2048 if jax.default_backend() == "cpu" else 8192
    rng = np.random.default_rng(0)
    a, b = (jax.device_put(rng.standard_normal((n, n), np.float32).astype(jnp.dtype(dtype))) for _ in range(2))
    with jax.default_matmul_precision("highest" if dtype == "float32" else "default"):
        product = jax.jit(lambda x, y: x @ y)
        jax.block_until_ready(product(a, b))
        runs = []
        for _ in range(repeats):
            start = time.perf_counter()
            jax.block_until_ready(product(a, b))
            runs.append(time.perf_counter() - start)
    return {"dtype": dtype, "n": n, "seconds": min(runs), "gflops_per_s": 2 * n ** 3 / min(runs) / 1e9}


def load_average() -> list[float]:
    """The host's 1, 5 and 15 minute load averages (other work running while measuring)."""
    return [round(x, 2) for x in os.getloadavg()]


def machine() -> dict:
    """The device, its backend and count, the host's CPU and load, and the software versions."""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor() or "unknown"
    return {"device": jax.devices()[0].device_kind, "backend": jax.default_backend(),
            "device_count": jax.device_count(), "host_cpu": cpu, "cpu_count": os.cpu_count(),
            "load_average": load_average(), "python": platform.python_version(), "jax": jax.__version__}


def device_line() -> str:
    m = machine()
    return (f"device: {m['device']} ({m['backend']}, {m['device_count']} devices), host: {m['host_cpu']}, "
            f"{m['cpu_count']} cores, load average {m['load_average'][0]:.2f}")
