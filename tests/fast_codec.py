"""A codec of the fast test config (tests/run_configs/fast.py, compiled in seconds) with seeded random weights,
and the same saved as a converted checkpoint, for tests that run the command lines on many small inputs."""
import jax
import jax.numpy as jnp

from bigcodec_jax import BigCodec
from bigcodec_jax.checkpoints import store
from bigcodec_jax.codec import BigCodecModel
from run_configs.fast import get_config


def fast_codec(window_seconds: float = 1.0) -> BigCodec:
    config = get_config().model
    params = jax.jit(BigCodecModel(config).init)(jax.random.PRNGKey(0), jnp.zeros((1, 200)))["params"]
    return BigCodec(config, params, window_seconds=window_seconds)


def save_fast_checkpoint(directory: str) -> BigCodec:
    """Save the fast codec as a converted checkpoint in `directory`; returns the codec."""
    codec = fast_codec()
    store.save(directory, codec.config, {"generator": jax.device_get(codec.params)})
    return codec
