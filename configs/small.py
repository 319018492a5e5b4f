"""A CPU-sized run: the tiny model on the packaged speech corpus, batch 4 x 0.5 s, a few minutes per
hundred steps on 2 cores. The learning rate skips the 1000-step warm-up so short runs learn. The values
live in the package (`training.presets.cpu_small`), where `python -m bigcodec_jax.demo` uses them too."""
from bigcodec_jax.training.presets import cpu_small


def get_config():
    return cpu_small()
