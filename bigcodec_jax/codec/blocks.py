"""The residual, encoder and decoder blocks shared by the encoder and decoder.

Every block takes optional `lengths` (valid frames per example at its input rate, see
`nn/masking.py`): with them, a right-padded batch gives each example its unpadded result.
"""
from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from bigcodec_jax.nn.masking import MaskedAntiAliasedSnakeBeta, zero_tail
from bigcodec_jax.nn.weight_norm import WNConv, WNConvTranspose1d

Lengths = jax.Array | None


def stride_padding(stride: int) -> int:
    """Padding of the strided (transposed) convolutions: `s // 2 + s % 2`."""
    return stride // 2 + stride % 2


def conv_input(x: jax.Array, lengths: Lengths) -> jax.Array:
    """`x` with zeros after the valid lengths, as a zero-padded convolution expects (unchanged without lengths)."""
    return x if lengths is None else zero_tail(x, lengths)


class ResidualUnit(nn.Module):
    """`x + Conv1x1(Act(Conv7_dilated(Act(x))))`, channels kept."""

    dilation: int
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, lengths: Lengths = None) -> jax.Array:
        c = x.shape[-1]
        y = MaskedAntiAliasedSnakeBeta(self.dtype, name="act_1")(x, lengths)
        y = WNConv(c, (7,), padding=(3 * self.dilation,), dilation=(self.dilation,), dtype=self.dtype,
                   name="conv_1")(conv_input(y, lengths))
        y = MaskedAntiAliasedSnakeBeta(self.dtype, name="act_2")(y, lengths)
        y = WNConv(c, (1,), dtype=self.dtype, name="conv_2")(y)
        return x.astype(self.dtype) + y


class EncoderBlock(nn.Module):
    """Residual units at the input width, Act, then a strided conv to `features`; length T -> T / stride."""

    features: int
    stride: int
    dilations: Sequence[int]
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, lengths: Lengths = None) -> jax.Array:
        for j, d in enumerate(self.dilations):
            x = ResidualUnit(d, self.dtype, name=f"res_{j}")(x, lengths)
        x = MaskedAntiAliasedSnakeBeta(self.dtype, name="act")(x, lengths)
        s = self.stride
        return WNConv(self.features, (2 * s,), strides=(s,), padding=(stride_padding(s),), dtype=self.dtype,
                      name="conv")(conv_input(x, lengths))


class DecoderBlock(nn.Module):
    """Act, a transposed conv to `features` (length T -> stride * T), then residual units."""

    features: int
    stride: int
    dilations: Sequence[int]
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, lengths: Lengths = None) -> jax.Array:
        s = self.stride
        x = MaskedAntiAliasedSnakeBeta(self.dtype, name="act")(x, lengths)
        x = WNConvTranspose1d(self.features, 2 * s, s, stride_padding(s), s % 2, dtype=self.dtype,
                              name="conv_t")(conv_input(x, lengths))
        lengths = None if lengths is None else lengths * s
        for j, d in enumerate(self.dilations):
            x = ResidualUnit(d, self.dtype, name=f"res_{j}")(x, lengths)
        return x
