"""Timing and memory helpers shared by every benchmark."""
from __future__ import annotations

import resource
import statistics
import time
from typing import Callable

import jax


def peak_memory_gib() -> float:
    """The device's peak memory when it reports one (GPU/TPU), else the process's peak resident size."""
    stats = jax.devices()[0].memory_stats() or {}
    if "peak_bytes_in_use" in stats:
        return stats["peak_bytes_in_use"] / 2 ** 30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20  # KiB on Linux


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


def device_line() -> str:
    return f"device: {jax.devices()[0].device_kind} ({jax.default_backend()}, {jax.device_count()} devices)"
