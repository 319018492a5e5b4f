"""A CPU-sized run: the tiny model on the packaged speech corpus, batch 4 x 0.5 s, a few minutes per
hundred steps on 2 cores. The learning rate skips the 1000-step warm-up so short runs learn."""
from bigcodec_jax.training.config import recipe


def get_config():
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
    config.checkpoint.every_steps = 50
    config.checkpoint.keep = 2
    return config
