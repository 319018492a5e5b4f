"""The official repository's debug model (4 blocks, 1-layer LSTMs, 8 quantisers of 1024) on the packaged corpus."""
import ml_collections

from bigcodec_jax.codec.config import model_config
from bigcodec_jax.configs import base


def get_config() -> ml_collections.ConfigDict:
    config = base.get_config()
    config.model = model_config("official_debug")
    config.data.source, config.data.split = "corpus", "train"  # the packaged speech: offline, no preparation
    config.data.eval.source, config.data.eval.split = "corpus", "test"  # the corpus's held-out part
    config.num_steps = 10_000
    config.log_every_steps = 10
    config.examples_every_steps = 500
    config.checkpoint.every_steps = 500
    return config
