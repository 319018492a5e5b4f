"""The residual, encoder and decoder blocks, and the layer sequences every stage is made of.

A stage is a sequence of layers, each `layer(x, lengths)` with `layer.span` and
`layer.output_lengths`. The forward pass (`run_layers`) and the receptive field
(`layers_span`) walk the same sequence, so the geometry is described once, by the modules.
`lengths` (valid frames per example at a layer's input rate, see `nn/masking.py`) make a
right-padded batch give each example its unpadded result.
"""
from __future__ import annotations

from typing import Protocol, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from bigcodec_jax.nn.masking import MaskedAntiAliasedSnakeBeta
from bigcodec_jax.nn.weight_norm import WNConv, WNConvTranspose1d

Lengths = jax.Array | None


class Layer(Protocol):
    def __call__(self, x: jax.Array, lengths: Lengths = None) -> jax.Array: ...

    def span(self, lo: int, hi: int) -> tuple[int, int]: ...

    def output_lengths(self, lengths: jax.Array) -> jax.Array: ...


def run_layers(layers: Sequence[Layer], x: jax.Array, lengths: Lengths = None) -> jax.Array:
    """Apply `layers` in order, carrying the valid lengths through their rate changes."""
    for layer in layers:
        x = layer(x, lengths)
        lengths = None if lengths is None else layer.output_lengths(lengths)
    return x


def layers_span(layers: Sequence[Layer], lo: int, hi: int) -> tuple[int, int]:
    """Input positions `[lo', hi']` (inclusive) that outputs `[lo, hi]` of `layers` read."""
    for layer in reversed(layers):
        lo, hi = layer.span(lo, hi)
    return lo, hi


def layers_output_lengths(layers: Sequence[Layer], lengths: jax.Array) -> jax.Array:
    for layer in layers:
        lengths = layer.output_lengths(lengths)
    return lengths


def stride_padding(stride: int) -> int:
    """Padding of the strided (transposed) convolutions: `s // 2 + s % 2`."""
    return stride // 2 + stride % 2


class ResidualUnit(nn.Module):
    """`x + Conv1x1(Act(Conv7_dilated(Act(x))))`, channels kept."""

    features: int
    dilation: int
    dtype: jnp.dtype = jnp.float32

    def setup(self):
        d = self.dilation
        self.act_1 = MaskedAntiAliasedSnakeBeta(self.dtype)
        self.conv_1 = WNConv(self.features, (7,), padding=(3 * d,), dilation=(d,), dtype=self.dtype)
        self.act_2 = MaskedAntiAliasedSnakeBeta(self.dtype)
        self.conv_2 = WNConv(self.features, (1,), dtype=self.dtype)

    def branch(self) -> list[Layer]:
        return [self.act_1, self.conv_1, self.act_2, self.conv_2]

    def __call__(self, x: jax.Array, lengths: Lengths = None) -> jax.Array:
        return x.astype(self.dtype) + run_layers(self.branch(), x, lengths)

    def span(self, lo: int, hi: int) -> tuple[int, int]:
        branch_lo, branch_hi = layers_span(self.branch(), lo, hi)
        return min(lo, branch_lo), max(hi, branch_hi)

    def output_lengths(self, lengths: jax.Array) -> jax.Array:
        return lengths


class _SequentialBlock(nn.Module):
    """A block that is a plain sequence of layers (`layers()`)."""

    def layers(self) -> list[Layer]:
        raise NotImplementedError

    def __call__(self, x: jax.Array, lengths: Lengths = None) -> jax.Array:
        return run_layers(self.layers(), x, lengths)

    def span(self, lo: int, hi: int) -> tuple[int, int]:
        return layers_span(self.layers(), lo, hi)

    def output_lengths(self, lengths: jax.Array) -> jax.Array:
        return layers_output_lengths(self.layers(), lengths)


class EncoderBlock(_SequentialBlock):
    """Residual units at the input width, Act, then a strided conv to `features`; length T -> T / stride."""

    in_features: int
    features: int
    stride: int
    dilations: Sequence[int]
    dtype: jnp.dtype = jnp.float32

    def setup(self):
        s = self.stride
        self.res = [ResidualUnit(self.in_features, d, self.dtype) for d in self.dilations]
        self.act = MaskedAntiAliasedSnakeBeta(self.dtype)
        self.conv = WNConv(self.features, (2 * s,), strides=(s,), padding=(stride_padding(s),), dtype=self.dtype)

    def layers(self) -> list[Layer]:
        return [*self.res, self.act, self.conv]


class DecoderBlock(_SequentialBlock):
    """Act, a transposed conv to `features` (length T -> stride * T), then residual units."""

    features: int
    stride: int
    dilations: Sequence[int]
    dtype: jnp.dtype = jnp.float32

    def setup(self):
        s = self.stride
        self.act = MaskedAntiAliasedSnakeBeta(self.dtype)
        self.conv_t = WNConvTranspose1d(self.features, 2 * s, s, stride_padding(s), s % 2, dtype=self.dtype)
        self.res = [ResidualUnit(self.features, d, self.dtype) for d in self.dilations]

    def layers(self) -> list[Layer]:
        return [self.act, self.conv_t, *self.res]


class Tanh(nn.Module):
    """The decoder's output nonlinearity, as a layer of its stage."""

    def __call__(self, x: jax.Array, lengths: Lengths = None) -> jax.Array:
        return jnp.tanh(x)

    def span(self, lo: int, hi: int) -> tuple[int, int]:
        return lo, hi

    def output_lengths(self, lengths: jax.Array) -> jax.Array:
        return lengths
