"""SnakeBeta and the anti-aliased activation (2x up, SnakeBeta, 2x down) in polyphase form.

The official `Activation1d` zero-stuffs, filters with a 12-tap Kaiser-windowed sinc, applies
SnakeBeta at twice the rate and filters again with a stride of two. Because the filter is one
fixed scalar kernel shared by all channels, both resampling steps reduce to six shifted,
scaled copies per phase at the input rate; XLA fuses them with SnakeBeta into a few elementwise
loops, with no zero-stuffing and no convolution. Edge handling reproduces PyTorch's replicate
padding exactly.
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np



# The official 12-tap Kaiser-windowed sinc (cutoff 0.25, half width 0.3), bit-exact as the official
# code computes it in float32 and stores it in `...upsample.filter` / `...downsample.lowpass.filter`.
# tests/test_activations.py re-derives it from the formula and checks the stored buffers.
RESAMPLING_FILTER = np.array([float.fromhex(h) for h in (
    "0x1.09f0c2p-9", "0x1.33ac8cp-7", "-0x1.a28108p-6", "-0x1.d8544cp-5", "0x1.075110p-3", "0x1.c5d8cap-2",
    "0x1.c5d8cap-2", "0x1.075110p-3", "-0x1.d8544cp-5", "-0x1.a28108p-6", "0x1.33ac8cp-7", "0x1.09f0c2p-9",
)], dtype=np.float32)


# Input frames the activation reads on each side of an output frame: the polyphase upsampler's
# phases read frames j-3..j+2 and j-2..j+3, and the downsampler reads phase frames j-3..j+3.
CONTEXT = len(RESAMPLING_FILTER) // 2 - 1


def snake_beta(x: jax.Array, log_alpha: jax.Array, log_beta: jax.Array) -> jax.Array:
    """`x + 1 / (exp(beta) + 1e-9) * sin(x * exp(alpha)) ** 2`, parameters per channel (last axis)."""
    alpha = jnp.exp(log_alpha)
    inv_beta = 1.0 / (jnp.exp(log_beta) + 1e-9)
    return x + inv_beta * jnp.sin(x * alpha) ** 2


def _taps(x: jax.Array, weights: np.ndarray, length: int) -> jax.Array:
    """sum_i weights[i] * x[:, i : i + length], a fixed scalar FIR along axis 1."""
    out = weights[0] * x[:, :length]
    for i in range(1, len(weights)):
        out = out + weights[i] * x[:, i:i + length]
    return out


def _edge(x: jax.Array, index: int, count: int) -> jax.Array:
    """`count` copies of frame `index` of `x` along axis 1."""
    frame = jax.lax.dynamic_slice_in_dim(x, index % x.shape[1], 1, axis=1)
    return jnp.repeat(frame, count, axis=1)


def upsample2(x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """The even and odd output phases of the official `UpSample1d` (ratio 2), each `(B, T, C)`.

    Official: replicate-pad 5, transposed conv with stride 2, times 2, drop 15 samples per end.
    Polyphase: with `x` replicate-padded by 3, even outputs use taps 2h[11 - 2i] on frames
    j..j+5 and odd outputs taps 2h[12 - 2i] on frames j+1..j+6.
    """
    h = 2 * RESAMPLING_FILTER
    t = x.shape[1]
    padded = jnp.concatenate([_edge(x, 0, 3), x, _edge(x, -1, 3)], axis=1)
    even = _taps(padded, h[11::-2], t)
    odd = _taps(padded[:, 1:], h[10::-2], t)
    return even, odd


def downsample2(even: jax.Array, odd: jax.Array) -> jax.Array:
    """The official `DownSample1d` (ratio 2) of the interleaved signal `u[2j] = even[j]`, `u[2j+1] = odd[j]`.

    Official: replicate-pad 5 left and 6 right, then a stride-2 convolution with h. Each phase
    is padded with the samples the interleaved signal's replicate padding would put there.
    """
    h = RESAMPLING_FILTER
    t = even.shape[1]
    first, last = _edge(even, 0, 1), _edge(odd, -1, 1)
    even_p = jnp.concatenate([jnp.repeat(first, 2, 1), even, jnp.repeat(last, 3, 1)], axis=1)
    odd_p = jnp.concatenate([jnp.repeat(first, 3, 1), odd, jnp.repeat(last, 2, 1)], axis=1)
    return _taps(even_p, h[1::2], t) + _taps(odd_p, h[0::2], t)


def upsample2_pairs(x: jax.Array) -> jax.Array:
    """Valid-mode 2x upsampling for streaming: `x (B, T, C)` -> phase pairs `(B, T - 5, 2, C)`, no edge padding.

    With `u` the upsampled signal of `upsample2` (`u[2j] = even[j]`, `u[2j + 1] = odd[j]`), output
    pair k is `(u[2f - 1], u[2f])` at input frame `f = k + 3`; both read exactly `x[k .. k + 5]`,
    so a stream can emit a pair as soon as its six input frames are present.
    """
    h = 2 * RESAMPLING_FILTER
    t = x.shape[1] - 5
    return jnp.stack([_taps(x, h[10::-2], t), _taps(x, h[11::-2], t)], axis=2)


def downsample2_pairs(pairs: jax.Array) -> jax.Array:
    """Valid-mode 2x downsampling for streaming: pairs `(B, T, 2, C)` as `upsample2_pairs` makes them -> `(B, T - 5, C)`.

    Output j is `DownSample1d` at the frame of pair `j + 2`: it reads pairs `j .. j + 5` (the
    official filter's 12 taps over `u`), no edge padding.
    """
    h = RESAMPLING_FILTER
    t = pairs.shape[1] - 5
    return _taps(pairs[:, :, 0], h[0::2], t) + _taps(pairs[:, :, 1], h[1::2], t)


def anti_aliased_snake_beta(x: jax.Array, log_alpha: jax.Array, log_beta: jax.Array) -> jax.Array:
    """Upsample x2, SnakeBeta, downsample x2, on channels-last `(B, T, C)`; length is kept."""
    even, odd = upsample2(x)
    return downsample2(snake_beta(even, log_alpha, log_beta), snake_beta(odd, log_alpha, log_beta))


class AntiAliasedSnakeBeta(nn.Module):
    """The official `Activation1d(SnakeBeta(C, alpha_logscale=True))`; parameters `alpha`, `beta` of shape (C,)."""

    dtype: jnp.dtype = jnp.float32

    def span(self, lo: int, hi: int) -> tuple[int, int]:
        """Input frames `[lo', hi']` (edge padding included) read by output frames `[lo, hi]`."""
        return lo - CONTEXT, hi + CONTEXT

    def output_lengths(self, lengths: jax.Array) -> jax.Array:
        """The length is kept."""
        return lengths

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        channels = x.shape[-1]
        log_alpha = self.param("alpha", nn.initializers.zeros, (channels,))
        log_beta = self.param("beta", nn.initializers.zeros, (channels,))
        return anti_aliased_snake_beta(x.astype(self.dtype), log_alpha.astype(self.dtype),
                                       log_beta.astype(self.dtype))
