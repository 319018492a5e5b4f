"""Valid-length masking: each example of a right-padded batch computes what it would alone.

Every layer pads at the sequence end, convolutions with zeros and the anti-aliased activation by
repeating its last sample. Filling the padded tail of a layer's input with exactly those values
makes the outputs at valid positions equal to running the unpadded example, so files of
different lengths can share one padded shape without changing a single code.
`lengths` is `(B,)` int: the number of valid frames of each example at the layer's rate.
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from bigcodec_jax.nn.activations import AntiAliasedSnakeBeta, anti_aliased_snake_beta


def valid_frames(lengths: jax.Array, frames: int) -> jax.Array:
    """`(B, frames)` True at each example's valid positions."""
    return jnp.arange(frames)[None, :] < lengths[:, None]


def _valid(x: jax.Array, lengths: jax.Array) -> jax.Array:
    """`(B, T, 1)` True at valid positions."""
    return valid_frames(lengths, x.shape[1])[..., None]


def mask_padded_keys(logits: jax.Array, lengths: jax.Array) -> jax.Array:
    """Attention logits `(B, H, Tq, Tk)` with the keys past each example's valid length at float32's lowest value,
    so that the softmax gives them no weight and padding changes no valid query's output."""
    return jnp.where(valid_frames(lengths, logits.shape[-1])[:, None, None, :], logits, jnp.finfo(logits.dtype).min)


def zero_tail(x: jax.Array, lengths: jax.Array) -> jax.Array:
    """Zeros after each example's valid length (what a zero-padded convolution sees there)."""
    return jnp.where(_valid(x, lengths), x, jnp.zeros((), x.dtype))


class MaskedAntiAliasedSnakeBeta(AntiAliasedSnakeBeta):
    """`AntiAliasedSnakeBeta` (same parameters; same result without `lengths`) that accepts valid lengths."""

    @nn.compact
    def __call__(self, x: jax.Array, lengths: jax.Array | None = None) -> jax.Array:
        if lengths is None:
            return super().__call__(x)
        channels = x.shape[-1]
        log_alpha = self.param("alpha", nn.initializers.zeros, (channels,)).astype(self.dtype)
        log_beta = self.param("beta", nn.initializers.zeros, (channels,)).astype(self.dtype)
        return anti_aliased_snake_beta(x.astype(self.dtype), log_alpha, log_beta, lengths)
