"""The residual, encoder and decoder blocks shared by the encoder and decoder."""
from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from bigcodec_jax.nn.activations import AntiAliasedSnakeBeta
from bigcodec_jax.nn.weight_norm import WNConv, WNConvTranspose1d


def stride_padding(stride: int) -> int:
    """Padding of the strided (transposed) convolutions: `s // 2 + s % 2`."""
    return stride // 2 + stride % 2


class ResidualUnit(nn.Module):
    """`x + Conv1x1(Act(Conv7_dilated(Act(x))))`, channels kept."""

    dilation: int
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        c = x.shape[-1]
        y = AntiAliasedSnakeBeta(self.dtype, name="act_1")(x)
        y = WNConv(c, (7,), padding=(3 * self.dilation,), dilation=(self.dilation,), dtype=self.dtype, name="conv_1")(y)
        y = AntiAliasedSnakeBeta(self.dtype, name="act_2")(y)
        y = WNConv(c, (1,), dtype=self.dtype, name="conv_2")(y)
        return x.astype(self.dtype) + y


class EncoderBlock(nn.Module):
    """Residual units at the input width, Act, then a strided conv to `features`; length T -> T / stride."""

    features: int
    stride: int
    dilations: Sequence[int]
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for j, d in enumerate(self.dilations):
            x = ResidualUnit(d, self.dtype, name=f"res_{j}")(x)
        x = AntiAliasedSnakeBeta(self.dtype, name="act")(x)
        s = self.stride
        return WNConv(self.features, (2 * s,), strides=(s,), padding=(stride_padding(s),), dtype=self.dtype,
                      name="conv")(x)


class DecoderBlock(nn.Module):
    """Act, a transposed conv to `features` (length T -> stride * T), then residual units."""

    features: int
    stride: int
    dilations: Sequence[int]
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        s = self.stride
        x = AntiAliasedSnakeBeta(self.dtype, name="act")(x)
        x = WNConvTranspose1d(self.features, 2 * s, s, stride_padding(s), s % 2, dtype=self.dtype, name="conv_t")(x)
        for j, d in enumerate(self.dilations):
            x = ResidualUnit(d, self.dtype, name=f"res_{j}")(x)
        return x
