"""The BigCodec generator: encoder, residual factorised VQ and decoder."""
from bigcodec_jax.codec.model import BigCodecModel

__all__ = ["BigCodecModel"]
