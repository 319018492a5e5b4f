"""bigcodec-jax: the BigCodec 1.04 kbps speech codec and its descendants X-Codec2 and NeuCodec in JAX/Flax."""
from bigcodec_jax.api import BigCodec
from bigcodec_jax.family_api import NeuCodec, XCodec2

__version__ = "0.1.0"
__all__ = ["BigCodec", "NeuCodec", "XCodec2", "__version__"]
