"""Pre-norm transformer blocks of the Vocos decoder (official `bs_roformer5`): RMSNorm, attention, SiLU MLP.

The rotary embedding, as the release really computes it: the official attention hands torchtune's
`RotaryPositionalEmbeddings` queries and keys shaped `(batch, heads, time, head_dim)`, but torchtune reads
axis 1 as the sequence. So the rotation angle of pair `j` is `head_index * base ** (-2j / head_dim)`: every
head is rotated by its own fixed angle, the same at every time step, and `rotary_dim` must equal `head_dim`
(otherwise torchtune's reshape fails). The same orthogonal rotation of a head's query and key cancels in
their dot product, so the attention carries no position at all (it is permutation-equivariant in time);
only the decoder's convolutions see order. `head_rotation` reproduces the rotation anyway, so results
follow the official rounding.
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from bigcodec_jax.nn.masking import mask_padded_keys

Dtype = jnp.dtype
Lengths = jax.Array | None

# PyTorch's default Linear initialisation: kaiming_uniform(a=sqrt(5)), bound 1/sqrt(fan_in).
_default_init = nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform")
_ROTARY_BASE = 10_000


def head_rotation(x: jax.Array, base: int = _ROTARY_BASE) -> jax.Array:
    """Rotate `(B, T, H, D)` pairs `(x[2j], x[2j + 1])` of head `h` by `h * base ** (-2j / D)` (see module doc)."""
    heads, dim = x.shape[-2], x.shape[-1]
    theta = 1.0 / base ** (np.arange(0, dim, 2, dtype=np.float32) / np.float32(dim))
    angle = np.arange(heads, dtype=np.float32)[:, None] * theta.astype(np.float32)  # (H, D / 2)
    cos, sin = np.cos(angle).astype(np.float32), np.sin(angle).astype(np.float32)
    pairs = x.astype(jnp.float32).reshape(*x.shape[:-1], dim // 2, 2)
    a, b = pairs[..., 0], pairs[..., 1]
    out = jnp.stack([a * cos - b * sin, b * cos + a * sin], axis=-1)
    return out.reshape(x.shape).astype(x.dtype)


class RMSNorm(nn.Module):
    """`x / sqrt(mean(x^2) + eps) * weight` over the channels, statistics in float32."""

    eps: float = 1e-6
    dtype: Dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        weight = self.param("weight", nn.initializers.ones, (x.shape[-1],))
        x32 = x.astype(jnp.float32)
        y = x32 * jax.lax.rsqrt(jnp.mean(x32 * x32, axis=-1, keepdims=True) + self.eps) * weight
        return y.astype(self.dtype)


class Attention(nn.Module):
    """Bidirectional multi-head self-attention (no biases) with the official per-head rotation."""

    heads: int
    rotary_dim: int
    dtype: Dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, lengths: Lengths = None) -> jax.Array:
        b, t, dim = x.shape
        head_dim = dim // self.heads
        if dim % self.heads or self.rotary_dim != head_dim:
            raise ValueError(f"the official rotary layout needs rotary_dim == dim / heads, got rotary_dim "
                             f"{self.rotary_dim}, dim {dim}, heads {self.heads}")
        qkv = nn.Dense(3 * dim, use_bias=False, dtype=self.dtype, kernel_init=_default_init, name="c_attn")(x)
        q, k, v = jnp.moveaxis(qkv.reshape(b, t, 3, self.heads, head_dim), 2, 0)  # channels are (3, heads, d)
        q, k = head_rotation(q), head_rotation(k)
        logits = jnp.einsum("bqhd,bkhd->bhqk", q, k) / np.sqrt(head_dim).astype(np.float32)
        logits = logits.astype(jnp.float32)
        if lengths is not None:
            logits = mask_padded_keys(logits, lengths)
        weights = jax.nn.softmax(logits, axis=-1).astype(self.dtype)
        y = jnp.einsum("bhqk,bkhd->bqhd", weights, v).reshape(b, t, dim)
        return nn.Dense(dim, use_bias=False, dtype=self.dtype, kernel_init=_default_init, name="c_proj")(y)


class MLP(nn.Module):
    """`fc2(silu(fc1(x)))`, 4x wide, no biases."""

    dtype: Dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        dim = x.shape[-1]
        h = nn.Dense(4 * dim, use_bias=False, dtype=self.dtype, kernel_init=_default_init, name="fc1")(x)
        return nn.Dense(dim, use_bias=False, dtype=self.dtype, kernel_init=_default_init, name="fc2")(nn.silu(h))


class TransformerBlock(nn.Module):
    """`x + att(att_norm(x))`, then `+ mlp(ffn_norm(x))`, on `(B, T, dim)`; `lengths` masks padded keys."""

    heads: int
    rotary_dim: int
    dtype: Dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, lengths: Lengths = None) -> jax.Array:
        x = x + Attention(self.heads, self.rotary_dim, self.dtype, name="att")(
            RMSNorm(dtype=self.dtype, name="att_norm")(x), lengths)
        return x + MLP(self.dtype, name="mlp")(RMSNorm(dtype=self.dtype, name="ffn_norm")(x))
