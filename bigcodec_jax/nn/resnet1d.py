"""1-d residual convolution blocks of the Vocos decoder: masked GroupNorm, swish, k3 convolutions.

The official `ResnetBlock` (from latent-diffusion, without time embedding or shortcut) computes
`x + conv2(swish(norm2(conv1(swish(norm1(x))))))`; dropout is off in evaluation. With valid `lengths`
the GroupNorm statistics use only each example's valid frames and every convolution sees zeros after
them, so a right-padded batch gives each example exactly what it gives alone.
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from bigcodec_jax.nn.masking import valid_frames, zero_tail

Dtype = jnp.dtype
Lengths = jax.Array | None

# PyTorch's default Conv initialisation: kaiming_uniform(a=sqrt(5)), bound 1/sqrt(fan_in).
_default_init = nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform")


class MaskedGroupNorm(nn.Module):
    """GroupNorm over `(B, T, C)` (biased variance, float32 statistics) taken over valid frames only."""

    groups: int = 32
    eps: float = 1e-6
    dtype: Dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, lengths: Lengths = None) -> jax.Array:
        b, t, c = x.shape
        scale = self.param("scale", nn.initializers.ones, (c,))
        bias = self.param("bias", nn.initializers.zeros, (c,))
        xg = x.astype(jnp.float32).reshape(b, t, self.groups, c // self.groups)
        if lengths is None:
            valid = jnp.ones((b, t, 1, 1), jnp.float32)
        else:
            valid = valid_frames(lengths, t).astype(jnp.float32)[:, :, None, None]
        count = jnp.sum(valid, axis=(1, 3), keepdims=True) * (c // self.groups)
        mean = jnp.sum(xg * valid, axis=(1, 3), keepdims=True) / count
        var = jnp.sum(jnp.square(xg - mean) * valid, axis=(1, 3), keepdims=True) / count
        y = ((xg - mean) * jax.lax.rsqrt(var + self.eps)).reshape(b, t, c) * scale + bias
        return y.astype(self.dtype)


class MaskedConv1d(nn.Conv):
    """`nn.Conv` (same parameters) whose `(B, T, C)` input is zeroed after the valid `lengths` first."""

    @nn.compact
    def __call__(self, x: jax.Array, lengths: Lengths = None) -> jax.Array:
        return super().__call__(x if lengths is None else zero_tail(x, lengths))


def same_conv1d(features: int, kernel_size: int, dtype: Dtype, name: str | None = None,
                use_bias: bool = True) -> MaskedConv1d:
    """A stride-1 convolution zero-padded by `(kernel_size - 1) // 2` each side, as the official `Conv1d`s."""
    pad = (kernel_size - 1) // 2
    return MaskedConv1d(features, (kernel_size,), padding=((pad, pad),), use_bias=use_bias, dtype=dtype,
                        kernel_init=_default_init, name=name)


class ResnetBlock(nn.Module):
    """`x + conv2(swish(norm2(conv1(swish(norm1(x))))))` on `(B, T, C)`, channels unchanged."""

    groups: int = 32
    dtype: Dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, lengths: Lengths = None) -> jax.Array:
        c = x.shape[-1]
        h = nn.swish(MaskedGroupNorm(self.groups, dtype=self.dtype, name="norm1")(x, lengths))
        h = same_conv1d(c, 3, self.dtype, "conv1")(h, lengths)
        h = nn.swish(MaskedGroupNorm(self.groups, dtype=self.dtype, name="norm2")(h, lengths))
        return x + same_conv1d(c, 3, self.dtype, "conv2")(h, lengths)
