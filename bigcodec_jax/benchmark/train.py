"""Training throughput: seconds per GAN step (generator + discriminators), seconds of audio per second
and peak memory, for batches of 1 s crops in float32 and bfloat16, with the full-size model.

The step is the one `train.py` runs (same sharding over all devices), on random audio and random
weights; compilation is timed separately from the median of later steps. The training loop's own
work per step (the preemption check and the checkpoint schedule, which wait for neither the devices
nor the other processes) is timed too. Under `bigcodec_jax.launch` (or on a pod) it runs as one
multi-process job.
"""
from __future__ import annotations

import argparse
import tempfile
import time

import jax
import numpy as np

from bigcodec_jax import distributed
from bigcodec_jax.audio import SAMPLE_RATE
from bigcodec_jax.benchmark.common import device_line, peak_memory_gib, time_calls
from bigcodec_jax.training import sharding, trainer
from bigcodec_jax.training.checkpointing import Checkpointer
from bigcodec_jax.training.config import recipe
from bigcodec_jax.training.preemption import StopSignal
from bigcodec_jax.training.state import build_models

LOOP_CALLS = 10_000


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--variant", default="full", help="model variant (default: the released full size)")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[8, 32])
    p.add_argument("--seconds", type=float, default=1.0, help="crop length (the recipe's is 1 s)")
    p.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"], choices=["float32", "bfloat16"])
    p.add_argument("--repeats", type=int, default=5)


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


def run(args: argparse.Namespace) -> None:
    distributed.initialize()
    print(f"{device_line()}, {jax.process_count()} process(es), model: {args.variant}")
    print(f"training loop's own work per step: {loop_overhead_us(args.variant):.1f} us")
    print("dtype     batch  seconds  step s  audio s/s  compile s  peak GiB")
    for dtype in args.dtypes:
        for batch in args.batch_sizes:
            config = recipe(args.variant)
            config.compute_dtype = dtype
            config.matmul_precision = "highest" if dtype == "float32" else "default"
            config.batch_size = batch
            config.data.segment_samples = samples = int(args.seconds * SAMPLE_RATE)
            models = build_models(config)
            mesh = sharding.make_mesh(config)
            abstract, shardings = trainer.state_layout(models, config, mesh)
            state = trainer.initial_state(models, config, None, shardings)
            start = time.perf_counter()
            step = trainer.compiled_train_step(models, config, mesh, abstract, shardings)
            compile_seconds = time.perf_counter() - start
            rows = batch // jax.process_count()  # this process's slice of the global batch
            wav = sharding.global_batch(
                np.random.default_rng(jax.process_index()).uniform(-0.5, 0.5, (rows, samples)).astype(np.float32), mesh)
            holder = [state]

            def one_step():
                holder[0], metrics = step(holder[0], wav)
                return jax.block_until_ready(metrics)

            with jax.default_matmul_precision(config.matmul_precision):
                _, median, _ = time_calls(one_step, args.repeats)
            print(f"{dtype:9s} {batch:5d} {args.seconds:8.1f} {median:7.3f} {batch * args.seconds / median:10.2f} "
                  f"{compile_seconds:10.1f} {peak_memory_gib():9.2f}", flush=True)
