"""Training configs that ship with the package, so the demo needs no `configs/` folder (configs/small.py is this)."""
from __future__ import annotations

import ml_collections

from bigcodec_jax.training.config import recipe


def cpu_small() -> ml_collections.ConfigDict:
    """The tiny model on the packaged corpus, sized for a few minutes on 2 CPU cores: batch 4 x 0.5 s (~0.5 s a
    step), and a high learning rate without the 1000-step warm-up so that a few hundred steps learn."""
    config = recipe("tiny_train")
    config.batch_size = 4
    config.data.segment_samples = 8000
    config.num_steps = 300
    config.schedule.initial_lr = 1e-3
    config.schedule.peak_lr = 1e-3
    config.schedule.final_lr = 1e-4
    config.schedule.warmup_steps = 0
    config.schedule.decay_steps = 300
    config.log_every_steps = 10
    config.examples_every_steps = 100
    config.eval_every_steps = 100
    config.checkpoint.every_steps = 50
    config.checkpoint.keep = 2
    return config
