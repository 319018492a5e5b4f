"""Training throughput: seconds per GAN step (generator + discriminators), seconds of audio per second
and peak memory, for batches of 1 s crops in float32 and bfloat16, with the full-size model.

The step is the one `train.py` runs (same sharding over all devices), on random audio and random
weights; it is compiled ahead of time and timed apart from the median of later steps. The training
loop's own work per step (the preemption check and the checkpoint schedule, which wait for neither
the devices nor the other processes) is timed too. Under `bigcodec_jax.launch` (or on a pod) it runs
as one multi-process job.
"""
from __future__ import annotations

import argparse
import tempfile
import time

import jax
import numpy as np

from bigcodec_jax import distributed, errors
from bigcodec_jax.audio import SAMPLE_RATE
from bigcodec_jax.config import VARIANTS
from bigcodec_jax.benchmark.common import (compile_timed, compiled_memory_gib, device_line, flops, load_average,
                                           peak_memory, time_calls)
from bigcodec_jax.training import sharding, trainer
from bigcodec_jax.training.checkpointing import Checkpointer
from bigcodec_jax.training.config import recipe
from bigcodec_jax.training.preemption import StopSignal
from bigcodec_jax.training.state import build_models


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--variant", default="full", choices=VARIANTS,
                   help="model variant (default: the released full size)")
    p.add_argument("--batch-sizes", type=errors.positive_int, nargs="+", default=[8, 32])
    p.add_argument("--seconds", type=errors.positive_seconds, default=1.0, help="crop length (the recipe's is 1 s)")
    p.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"], choices=["float32", "bfloat16"])
    p.add_argument("--repeats", type=errors.positive_int, default=5)

LOOP_CALLS = 10_000


def loop_overhead_us(variant: str) -> float:
    """Microseconds of host work the training loop adds to each step (see the module docstring)."""
    with tempfile.TemporaryDirectory() as workdir:
        checkpointer, stop = Checkpointer(workdir, recipe(variant)), StopSignal()
        try:
            start = time.perf_counter()
            for step in range(1, LOOP_CALLS + 1):
                stop.should_stop(step)
                checkpointer.due(step)
            return (time.perf_counter() - start) / LOOP_CALLS * 1e6
        finally:
            stop.restore()
            checkpointer.close()


def measure(variant: str, dtype: str, batch: int, seconds: float, repeats: int) -> dict:
    """One row: step seconds (median of `repeats` after a warm-up step), compile seconds, memory."""
    config = recipe(variant)
    config.compute_dtype = dtype
    config.matmul_precision = "highest" if dtype == "float32" else "default"
    config.batch_size = batch
    config.data.segment_samples = samples = int(seconds * SAMPLE_RATE)
    models = build_models(config)
    mesh = sharding.make_mesh(config)
    _, shardings = trainer.state_layout(models, config, mesh)
    holder = [trainer.initial_state(models, config, None, shardings)]
    rows = batch // jax.process_count()  # this process's slice of the global batch
    wav = sharding.global_batch(
        np.random.default_rng(jax.process_index()).uniform(-0.5, 0.5, (rows, samples)).astype(np.float32), mesh)
    with jax.default_matmul_precision(config.matmul_precision):
        step, compile_s = compile_timed(trainer.sharded_train_step(models, config, mesh, shardings), holder[0], wav)
        distributed.barrier("benchmark_train_step_compiled")  # gloo collectives time out on a late process

        def one_step():
            holder[0], metrics = step(holder[0], wav)
            return jax.block_until_ready(metrics)

        _, median, _ = time_calls(one_step, repeats)
    peak, kind = peak_memory()
    count = flops(step)
    return {"dtype": dtype, "batch": batch, "seconds": seconds, "status": "ok", "step_s": median,
            "audio_per_s": batch * seconds / median, "compile_s": compile_s, "runs": repeats,
            "peak_memory_gib": peak, "peak_memory_kind": kind, "compiled_memory_gib": compiled_memory_gib(step),
            "gflop_per_step": count and count / 1e9, "gflops_per_s": count and count / median / 1e9,
            "load_average": load_average()}


HEADER = "dtype     batch  seconds  step s  audio s/s  compile s  peak GiB  compiled GiB"


def format_row(row: dict) -> str:
    compiled = row.get("compiled_memory_gib")
    return (f"{row['dtype']:9s} {row['batch']:5d} {row['seconds']:8.1f} {row['step_s']:7.3f} "
            f"{row['audio_per_s']:10.2f} {row['compile_s']:10.1f} {row['peak_memory_gib']:9.2f} "
            f"{compiled if compiled is not None else float('nan'):13.2f}")


def run(args: argparse.Namespace) -> None:
    distributed.initialize()
    print(f"{device_line()}, {jax.process_count()} process(es), model: {args.variant}")
    print(f"training loop's own work per step: {loop_overhead_us(args.variant):.1f} us")
    print(HEADER)
    for dtype in args.dtypes:
        for batch in args.batch_sizes:
            print(format_row(measure(args.variant, dtype, batch, args.seconds, args.repeats)), flush=True)
