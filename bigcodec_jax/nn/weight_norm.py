"""Weight-normalised layers (legacy PyTorch `weight_norm`, dim 0) in channels-last Flax.

Each layer keeps the direction `v` and the gain `g` as trainable parameters and recomputes
`w = g * v / ||v||` on every call, as the official model does. Kernels are stored in Flax layout
(spatial..., in, out); the gain has one entry per PyTorch output-axis-0 channel.
"""
from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from bigcodec_jax.nn.masking import zero_tail

Dtype = jnp.dtype
Lengths = jax.Array | None

# PyTorch's default Conv/Linear initialisation: kaiming_uniform(a=sqrt(5)), bound 1/sqrt(fan_in).
_default_init = nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform")


def _norm(v: jax.Array, gain_axis: int, keepdims: bool) -> jax.Array:
    """||v|| over every axis except `gain_axis`."""
    axes = tuple(a for a in range(v.ndim) if a != gain_axis % v.ndim)
    return jnp.sqrt(jnp.sum(v * v, axis=axes, keepdims=keepdims))


def weight_norm(v: jax.Array, g: jax.Array, gain_axis: int) -> jax.Array:
    """`g * v / ||v||`, the norm taken over every axis of `v` except `gain_axis`."""
    shape = [1] * v.ndim
    shape[gain_axis] = -1
    return v * (g.reshape(shape) / _norm(v, gain_axis, keepdims=True))


def _norm_init(v: jax.Array, gain_axis: int):
    """Initialise the gain to ||v|| so that the initial weight equals v (PyTorch's behaviour)."""
    return lambda _rng: _norm(v, gain_axis, keepdims=False)


class WNConv(nn.Module):
    """Weight-normed N-d convolution, channels-last (`(B, *spatial, C)`), symmetric zero padding.

    1-d convolutions also take valid `lengths` (see `nn/masking.py`) and describe their geometry
    (`span`, `output_lengths`), from which the codec derives its receptive fields.
    """

    features: int
    kernel_size: Sequence[int]
    strides: Sequence[int] | None = None
    padding: Sequence[int] | None = None
    dilation: Sequence[int] | None = None
    dtype: Dtype = jnp.float32

    def _geometry(self) -> tuple[int, int, int, int]:
        """(kernel, stride, padding, dilation) of a 1-d convolution."""
        (kernel,) = self.kernel_size
        return kernel, (self.strides or (1,))[0], (self.padding or (0,))[0], (self.dilation or (1,))[0]

    def span(self, lo: int, hi: int) -> tuple[int, int]:
        """Input positions `[lo', hi']` (inclusive, padding included) read by outputs `[lo, hi]` (1-d)."""
        kernel, stride, padding, dilation = self._geometry()
        return lo * stride - padding, hi * stride - padding + dilation * (kernel - 1)

    def output_lengths(self, lengths: jax.Array) -> jax.Array:
        """Valid output frames of inputs with `lengths` valid frames (a multiple of the stride)."""
        return lengths // self._geometry()[1]

    @nn.compact
    def __call__(self, x: jax.Array, lengths: Lengths = None) -> jax.Array:
        """`lengths` (1-d only): valid frames per example; the frames after them count as zero padding."""
        nd = len(self.kernel_size)
        if lengths is not None:
            x = zero_tail(x, lengths)
        v = self.param("v", _default_init, (*self.kernel_size, x.shape[-1], self.features))
        g = self.param("g", _norm_init(v, -1))
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        w = weight_norm(v, g, gain_axis=-1).astype(self.dtype)
        pad = self.padding or (0,) * nd
        y = jax.lax.conv_general_dilated(
            x.astype(self.dtype), w,
            window_strides=self.strides or (1,) * nd,
            padding=[(p, p) for p in pad],
            rhs_dilation=self.dilation or (1,) * nd,
            dimension_numbers=_dimension_numbers(nd),
        )
        return y + bias.astype(self.dtype)

    def kernel(self) -> jax.Array:
        """The weight-normed kernel in the compute dtype, for callers that reuse it (bound modules only)."""
        params = self.variables["params"]
        return weight_norm(params["v"], params["g"], gain_axis=-1).astype(self.dtype)

    def valid(self, x: jax.Array, kernel: jax.Array) -> jax.Array:
        """1-d outputs whose every input lies in `x (B, T, C)`, no padding (streaming); `kernel` from `kernel()`."""
        _, stride, _, dilation = self._geometry()
        y = jax.lax.conv_general_dilated(x.astype(self.dtype), kernel, window_strides=(stride,), padding=[(0, 0)],
                                         rhs_dilation=(dilation,), dimension_numbers=_dimension_numbers(1))
        return y + self.variables["params"]["bias"].astype(self.dtype)


class WNConvTranspose1d(nn.Module):
    """Weight-normed PyTorch-style ConvTranspose1d (`padding`, `output_padding`), channels-last.

    The kernel is stored as `(k, in, out)` with one gain per *input* channel, as in PyTorch.
    """

    features: int
    kernel_size: int
    stride: int
    padding: int = 0
    output_padding: int = 0
    dtype: Dtype = jnp.float32

    def span(self, lo: int, hi: int) -> tuple[int, int]:
        """Input positions `[lo', hi']` read by outputs `[lo, hi]`: output `o` reads input `i` where
        `o = i * stride - padding + tap` for a tap in `[0, kernel)`."""
        return -(-(lo + self.padding - self.kernel_size + 1) // self.stride), (hi + self.padding) // self.stride

    def output_lengths(self, lengths: jax.Array) -> jax.Array:
        """Valid output frames: `stride` per valid input frame."""
        return lengths * self.stride

    @nn.compact
    def __call__(self, x: jax.Array, lengths: Lengths = None) -> jax.Array:
        """`lengths`: valid frames per example; the frames after them count as zeros."""
        if lengths is not None:
            x = zero_tail(x, lengths)
        k = self.kernel_size
        v = self.param("v", _default_init, (k, x.shape[-1], self.features))
        g = self.param("g", _norm_init(v, 1))
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        w = weight_norm(v, g, gain_axis=1).astype(self.dtype)
        # A transposed convolution is a convolution of the stride-dilated input with the flipped kernel.
        lo = k - 1 - self.padding
        y = jax.lax.conv_general_dilated(
            x.astype(self.dtype), w[::-1],
            window_strides=(1,),
            padding=[(lo, lo + self.output_padding)],
            lhs_dilation=(self.stride,),
            dimension_numbers=_dimension_numbers(1),
        )
        return y + bias.astype(self.dtype)

    def kernel(self) -> jax.Array:
        """The weight-normed kernel as `valid` uses it, `(r * in, stride * out)` for `r = kernel_size / stride`
        (bound modules only): computed once, it serves every call of a stream.

        In polyphase form, output `q * stride + p - padding` (phase p) sums `x[q - j] @ w[p + j * stride]`
        over `j < r`; row block j and column block p of the result hold `w[p + j * stride]`.
        """
        params = self.variables["params"]
        w = weight_norm(params["v"], params["g"], gain_axis=1).astype(self.dtype)
        s, r = self.stride, self.kernel_size // self.stride
        assert r * s == self.kernel_size, "the polyphase form needs a kernel that is a multiple of the stride"
        _, c, d = w.shape
        return jnp.transpose(w.reshape(r, s, c, d), (0, 2, 1, 3)).reshape(r * c, s * d)

    def valid(self, x: jax.Array, kernel: jax.Array) -> jax.Array:
        """Outputs whose every input lies in `x (B, T, C)`, no padding (streaming); `kernel` from `kernel()`.

        These are the `(T - r + 1) * stride` outputs of `q = r - 1 .. T - 1`, in order: one matrix
        product of the r inputs each reads.
        """
        s, r = self.stride, self.kernel_size // self.stride
        x = x.astype(self.dtype)
        t = x.shape[1] - r + 1
        y = jnp.concatenate([x[:, r - 1 - j:r - 1 - j + t] for j in range(r)], axis=-1) @ kernel
        return y.reshape(x.shape[0], t * s, -1) + self.variables["params"]["bias"].astype(self.dtype)


class WNDense(nn.Module):
    """Weight-normed Linear layer; kernel `(in, out)`, one gain per output feature."""

    features: int
    dtype: Dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        v = self.param("v", _default_init, (x.shape[-1], self.features))
        g = self.param("g", _norm_init(v, -1))
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        w = weight_norm(v, g, gain_axis=-1).astype(self.dtype)
        return x.astype(self.dtype) @ w + bias.astype(self.dtype)


def _dimension_numbers(nd: int) -> tuple[str, str, str]:
    spatial = "HWD"[:nd] if nd > 1 else "W"
    return (f"N{spatial}C", f"{spatial}IO", f"N{spatial}C")
