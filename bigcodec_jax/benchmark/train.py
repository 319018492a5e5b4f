"""Training throughput: seconds per GAN step (generator + discriminators), seconds of audio per second
and peak memory, for batches of 1 s crops in float32 and bfloat16, with the full-size model.

The step is the one `train.py` runs (same sharding over all local devices), on random audio and
random weights; compilation is timed separately from the median of later steps.
"""
from __future__ import annotations

import argparse

import jax
import numpy as np

from bigcodec_jax import errors
from bigcodec_jax.audio import SAMPLE_RATE
from bigcodec_jax.config import VARIANTS
from bigcodec_jax.benchmark.common import device_line, peak_memory_gib, time_calls
from bigcodec_jax.training import sharding, trainer
from bigcodec_jax.training.config import recipe
from bigcodec_jax.training.state import build_models


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--variant", default="full", choices=VARIANTS,
                   help="model variant (default: the released full size)")
    p.add_argument("--batch-sizes", type=errors.positive_int, nargs="+", default=[8, 32])
    p.add_argument("--seconds", type=errors.positive_seconds, default=1.0, help="crop length (the recipe's is 1 s)")
    p.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"], choices=["float32", "bfloat16"])
    p.add_argument("--repeats", type=errors.positive_int, default=5)


def run(args: argparse.Namespace) -> None:
    print(f"{device_line()}, model: {args.variant}")
    print("dtype     batch  seconds  step s  audio s/s  compile s  peak GiB")
    for dtype in args.dtypes:
        for batch in args.batch_sizes:
            config = recipe(args.variant)
            config.compute_dtype = dtype
            config.matmul_precision = "highest" if dtype == "float32" else "default"
            config.batch_size = batch
            models = build_models(config)
            mesh = sharding.make_mesh(config)
            _, shardings = trainer.state_layout(models, config, mesh)
            state = trainer.initial_state(models, config, None, shardings)
            step = trainer.sharded_train_step(models, config, mesh, shardings)
            samples = int(args.seconds * SAMPLE_RATE)
            wav = sharding.global_batch(
                np.random.default_rng(0).uniform(-0.5, 0.5, (batch, samples)).astype(np.float32), mesh)
            holder = [state]

            def one_step():
                holder[0], metrics = step(holder[0], wav)
                return jax.block_until_ready(metrics)

            with jax.default_matmul_precision(config.matmul_precision):
                first, median, _ = time_calls(one_step, args.repeats)
            print(f"{dtype:9s} {batch:5d} {args.seconds:8.1f} {median:7.3f} {batch * args.seconds / median:10.2f} "
                  f"{first - median:10.1f} {peak_memory_gib():9.2f}", flush=True)
