"""The official repository's debug model (4 blocks, 1-layer LSTMs, 8 quantisers of 1024) on the packaged corpus."""
from bigcodec_jax.training.config import recipe


def get_config():
    config = recipe("official_debug")
    config.num_steps = 10_000
    config.log_every_steps = 10
    config.examples_every_steps = 500
    config.checkpoint.every_steps = 500
    return config
