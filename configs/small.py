"""A CPU-sized run: the tiny model on the packaged speech corpus, sized for a few minutes on 2 CPU cores:
batch 4 x 0.5 s (~0.5 s a step), and a high learning rate without the 1000-step warm-up so that a few
hundred steps learn. `bigcodec demo` trains this config (as `bigcodec_jax.configs.small`)."""
import ml_collections

from bigcodec_jax.codec.config import model_config
from bigcodec_jax.configs import base


def get_config() -> ml_collections.ConfigDict:
    config = base.get_config()
    config.model = model_config("tiny_train")
    config.data.source, config.data.split = "corpus", "train"  # the packaged speech: offline, no preparation
    config.data.eval.source, config.data.eval.split = "corpus", "test"  # the corpus's held-out part
    config.data.segment_samples = 8000
    config.batch_size = 4
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
