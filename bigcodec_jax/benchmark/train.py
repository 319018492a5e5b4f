"""Training throughput: seconds per GAN step (generator + discriminators), seconds of audio per second
and peak memory, for batches of 1 s crops in float32 and bfloat16, with the full-size model.

The step is `train.py`'s (same sharding over all devices; under `bigcodec_jax.launch` one
multi-process job) on random audio and weights, compiled ahead and timed apart. `--compile-only`
compiles from shapes alone and reports XLA's memory and FLOP counts: whether a batch fits a device,
answered in a minute, even on a CPU for the full-size model.
"""
from __future__ import annotations

import argparse
import time

import jax
import ml_collections
import numpy as np

from bigcodec_jax import distributed, errors
from bigcodec_jax.audio import SAMPLE_RATE
from bigcodec_jax.benchmark.common import (DTYPES, add_model_arguments, compiled_memory_gib, device_line, flops,
                                           load_average, peak_memory, time_calls)
from bigcodec_jax.codec.config import model_config
from bigcodec_jax.configs import base
from bigcodec_jax.training import sharding, trainer
from bigcodec_jax.training.config import validate
from bigcodec_jax.training.state import build_models


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_arguments(p, seconds=1.0, seconds_help="crop length (the recipe's is 1 s)", repeats=5,
                        batch_sizes=[8, 32], dtypes=list(DTYPES))
    p.add_argument("--compile-only", action="store_true",
                   help="compile each step from shapes and report its memory and FLOPs by XLA's analysis; run nothing")


def recipe(variant: str) -> ml_collections.ConfigDict:
    """The paper recipe (configs/base.py) around the model variant `variant`."""
    config = base.get_config()
    config.model = model_config(variant)
    return config


def step_config(variant: str, dtype: str, batch: int, seconds: float,
                option: str = "--seconds") -> ml_collections.ConfigDict:
    """The training settings of one measured step, checked as train.py checks them (a crop of whole
    frames, ...): a bad value is a UsageError naming the command's `option` for the crop length."""
    config = recipe(variant)
    config.compute_dtype = dtype
    config.matmul_precision = "highest" if dtype == "float32" else "default"
    config.batch_size = batch
    config.data.segment_samples = int(seconds * SAMPLE_RATE)
    try:
        validate(config)
    except errors.ConfigError as e:
        raise errors.UsageError(f"{e} (from {option} {seconds:g} and batch {batch})") from None
    return config


def measure(variant: str, dtype: str, batch: int, seconds: float, repeats: int, compile_only: bool = False) -> dict:
    """One row: step seconds (median of `repeats` after a warm-up step), compile seconds, memory; with
    `compile_only`, the compiled step's memory and FLOPs alone (status "compiled", no step time)."""
    config = step_config(variant, dtype, batch, seconds)
    samples = config.data.segment_samples
    models = build_models(config)
    mesh = sharding.make_mesh(config)
    abstract, shardings = trainer.state_layout(models, config, mesh)
    start = time.perf_counter()
    step = trainer.compiled_train_step(models, config, mesh, abstract, shardings)  # every process, then a barrier
    compile_s = time.perf_counter() - start
    count = flops(step)
    row = {"dtype": dtype, "batch": batch, "seconds": seconds, "compile_s": compile_s,
           "compiled_memory_gib": compiled_memory_gib(step), "gflop_per_step": count and count / 1e9,
           "load_average": load_average()}
    if compile_only:
        return {**row, "status": "compiled"}
    holder = [trainer.initial_state(models, config, None, shardings)]
    rows = batch // jax.process_count()  # this process's slice of the global batch
    wav = sharding.global_batch(
        np.random.default_rng(jax.process_index()).uniform(-0.5, 0.5, (rows, samples)).astype(np.float32), mesh)

    def one_step():
        holder[0], metrics = step(holder[0], wav)
        return jax.block_until_ready(metrics)

    _, median, _ = time_calls(one_step, repeats)
    peak, kind = peak_memory()
    return {**row, "status": "ok", "step_s": median, "audio_per_s": batch * seconds / median, "runs": repeats,
            "peak_memory_gib": peak, "peak_memory_kind": kind, "gflops_per_s": count and count / median / 1e9,
            "load_average": load_average()}


HEADER = "dtype     batch  seconds  step s  audio s/s  compile s  peak GiB  compiled GiB"


def format_row(row: dict) -> str:
    def number(key: str, width: int, digits: int) -> str:
        value = row.get(key)
        return f"{value:{width}.{digits}f}" if value is not None else f"{'-':>{width}s}"

    return (f"{row['dtype']:9s} {row['batch']:5d} {row['seconds']:8.1f} {number('step_s', 7, 3)} "
            f"{number('audio_per_s', 10, 2)} {number('compile_s', 10, 1)} {number('peak_memory_gib', 9, 2)} "
            f"{number('compiled_memory_gib', 13, 2)}")


def run(args: argparse.Namespace) -> None:
    distributed.initialize()
    print(f"{device_line()}, {jax.process_count()} process(es), model: {args.variant}")
    print(HEADER)
    for dtype in args.dtypes:
        for batch in args.batch_sizes:
            row = measure(args.variant, dtype, batch, args.seconds, args.repeats, args.compile_only)
            print(format_row(row), flush=True)
