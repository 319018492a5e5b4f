"""bigcodec-jax: the BigCodec 1.04 kbps speech codec in JAX/Flax."""
from bigcodec_jax.api import BigCodec

__version__ = "0.1.0"
__all__ = ["BigCodec", "__version__"]
