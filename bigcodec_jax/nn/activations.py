"""SnakeBeta and the anti-aliased activation (2x up, SnakeBeta, 2x down) in polyphase form.

The official `Activation1d` zero-stuffs, filters with a 12-tap Kaiser-windowed sinc, applies
SnakeBeta at twice the rate and filters again with a stride of two. Because the filter is one
fixed scalar kernel shared by all channels, both resampling steps reduce to 6-tap filters at
the input rate, with no zero-stuffing and no convolution: with `E[q]` and `O[q]` the even and
odd upsampled phases at input frames `q - 2` and `q - 3` of a signal padded by `CONTEXT`
frames either side (both 6-tap filters of `padded[q : q + 6]`),

    out[j] = sum_k h[2k + 1] snake(E)[j + k] + h[2k] snake(O)[j + k].

- `anti_aliased_snake_beta_valid` is that core alone on an already padded window: the outputs
  whose whole support (`CONTEXT` frames either side) is in the input, exactly the whole
  signal's at those frames. What a streaming caller needs.
- `anti_aliased_snake_beta` is the official layer on a whole signal: replicate-pad the input by
  `CONTEXT`, and replace the phases outside the signal by what PyTorch's replicate padding of the
  upsampled signal puts there (its first sample before, its last after). With `lengths`, each
  example of a right-padded batch ends at its own length (`nn/masking.py`).

SnakeBeta's `sin(x) ** 2` is `sin_squared`: a Cody-Waite reduction by pi/2 and one short
polynomial, 1-2 ulp like `jnp.sin` but vectorised (XLA's CPU `sin` made it most of the
activation's time).

In training, the backward pass recomputes SnakeBeta from its input (`jax.checkpoint`) instead of
keeping the polynomial's intermediates: differentiating the activation then keeps 3x its input's
bytes instead of 18x, which was most of what the train step kept from the forward pass (the step's
memory, before and after, is in docs/benchmarks.md, "Training memory"); recomputing an elementwise
function is cheap, and the gradients are unchanged. Without differentiation it compiles to the same
program.
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from bigcodec_jax.nn.fusion import materialised

# The official 12-tap Kaiser-windowed sinc (cutoff 0.25, half width 0.3), bit-exact as the official
# code computes it in float32 and stores it in `...upsample.filter` / `...downsample.lowpass.filter`.
# tests/test_activations.py re-derives it from the formula and checks the stored buffers.
RESAMPLING_FILTER = np.array([float.fromhex(h) for h in (
    "0x1.09f0c2p-9", "0x1.33ac8cp-7", "-0x1.a28108p-6", "-0x1.d8544cp-5", "0x1.075110p-3", "0x1.c5d8cap-2",
    "0x1.c5d8cap-2", "0x1.075110p-3", "-0x1.d8544cp-5", "-0x1.a28108p-6", "0x1.33ac8cp-7", "0x1.09f0c2p-9",
)], dtype=np.float32)
# pi / 2 in four parts (Cody-Waite) of 8 significant bits each but the last, so that `k * part` is exact
# and the reduction `y - k pi/2` accurate without fused multiply-adds for |k| < 2 ** 16 (|y| < 1e5).
_PI_2 = tuple(np.float32(float.fromhex(h)) for h in ("0x1.92p+0", "0x1.fap-12", "0x1.54p-20", "0x1.10b462p-30"))
# sin(r) = r + r^3 (S1 + r^2 (S2 + r^2 S3)) on |r| <= pi / 4 (Cephes' sinf minimax coefficients).
_S1, _S2, _S3 = np.float32(-1.6666654611e-1), np.float32(8.3321608736e-3), np.float32(-1.9515295891e-4)


def sin_squared(y: jax.Array) -> jax.Array:
    """`sin(y) ** 2`, computed in float32, within 1.5e-7 of the exact value for |y| < 1e5 (`jnp.sin`: 9e-8).

    With `y = k pi/2 + r`, `|r| <= pi/4`: `sin(y)^2` is `sin(r)^2` for even `k` and `1 - sin(r)^2`
    for odd `k`, so one short polynomial serves every argument; inf and NaN give NaN.
    """
    y32 = y.astype(jnp.float32)
    k = jnp.round(y32 * np.float32(2 / np.pi))
    r = y32
    for part in _PI_2:
        r = r - k * part
    r2 = r * r
    s = r + r * r2 * (_S1 + r2 * (_S2 + r2 * _S3))
    s2 = s * s
    odd = (k.astype(jnp.int32) & 1) == 1
    return jnp.where(odd, np.float32(1) - s2, s2).astype(y.dtype)


# Input frames the activation reads on each side of an output frame: the polyphase upsampler's
# phases read frames j-3..j+2 and j-2..j+3, and the downsampler reads phase frames j-3..j+3.
CONTEXT = len(RESAMPLING_FILTER) // 2 - 1


@jax.checkpoint  # the backward recomputes it from x (module docstring): elementwise, cheap to redo
def snake_beta(x: jax.Array, log_alpha: jax.Array, log_beta: jax.Array) -> jax.Array:
    """`x + 1 / (exp(beta) + 1e-9) * sin(x * exp(alpha)) ** 2`, parameters per channel (last axis)."""
    alpha = jnp.exp(log_alpha)
    inv_beta = 1.0 / (jnp.exp(log_beta) + 1e-9)
    return x + inv_beta * sin_squared(x * alpha)


def _taps(x: jax.Array, weights: np.ndarray, length: int) -> jax.Array:
    """sum_i weights[i] * x[:, i : i + length], a fixed scalar FIR along axis 1."""
    out = weights[0] * x[:, :length]
    for i in range(1, len(weights)):
        out = out + weights[i] * x[:, i:i + length]
    return out


def _phases(padded: jax.Array, log_alpha: jax.Array, log_beta: jax.Array) -> tuple[jax.Array, jax.Array]:
    """`snake(E)`, `snake(O)`, each `(B, T_padded - CONTEXT, C)`: the upsampled phases after SnakeBeta.

    Materialised (`nn/fusion.py`): the downsampler reads each phase value six times, and fused into it
    XLA would recompute the taps and SnakeBeta for every read."""
    def phases(padded):
        up = 2 * RESAMPLING_FILTER
        n = padded.shape[1] - CONTEXT
        return (snake_beta(_taps(padded, up[11::-2], n), log_alpha, log_beta),
                snake_beta(_taps(padded, up[10::-2], n), log_alpha, log_beta))

    return materialised(phases, padded, key=log_alpha)


def _frame_of_each(x: jax.Array, frames: jax.Array, key: jax.Array) -> jax.Array:
    """`x[b, frames[b]]` as `(B, 1, C)`, computed apart (`nn/fusion.py`: a gather fused into a large loop is
    evaluated for every element of it)."""
    return materialised(lambda x, frames: jnp.take_along_axis(x, frames[:, None, None], axis=1), x, frames, key=key)


def _downsample(even: jax.Array, odd: jax.Array) -> jax.Array:
    """`out[j] = sum_k h[2k + 1] even[j + k] + h[2k] odd[j + k]`, `CONTEXT` frames shorter than the phases."""
    t = even.shape[1] - CONTEXT
    return _taps(even, RESAMPLING_FILTER[1::2], t) + _taps(odd, RESAMPLING_FILTER[0::2], t)


def snake_pairs_valid(x: jax.Array, log_alpha: jax.Array, log_beta: jax.Array) -> jax.Array:
    """The upsampled signal after SnakeBeta in valid mode, as pairs `(B, T - CONTEXT, 2, C)` (streaming).

    Pair q is `(snake(O[q]), snake(E[q]))`, the upsampled samples at `2q - 5` and `2q - 4` of the
    frames of `x`, in signal order: both read `x[q : q + 6]`, so a stream emits the pair once those
    six frames are present and keeps the upsampled signal between its two resampling steps.
    """
    even, odd = _phases(x, log_alpha, log_beta)
    return jnp.stack([odd, even], axis=2)


def downsample_pairs_valid(pairs: jax.Array) -> jax.Array:
    """The downsampler in valid mode on pairs from `snake_pairs_valid`: `(B, T, 2, C)` -> `(B, T - CONTEXT, C)`."""
    return _downsample(pairs[:, :, 1], pairs[:, :, 0])


def anti_aliased_snake_beta_valid(x: jax.Array, log_alpha: jax.Array, log_beta: jax.Array) -> jax.Array:
    """The activation's outputs at input frames `CONTEXT .. T - CONTEXT - 1`: `(B, T - 2 CONTEXT, C)`.

    Each equals the whole-signal layer's output at that frame: its support, `CONTEXT` frames
    either side, is all in `x`, so no padding is involved.
    """
    if x.shape[1] <= 2 * CONTEXT:
        raise ValueError(f"the valid form needs more than {2 * CONTEXT} frames, got {x.shape[1]}")
    return _downsample(*_phases(x, log_alpha, log_beta))


def anti_aliased_snake_beta(x: jax.Array, log_alpha: jax.Array, log_beta: jax.Array,
                            lengths: jax.Array | None = None) -> jax.Array:
    """Upsample x2, SnakeBeta, downsample x2, on channels-last `(B, T, C)`; length is kept.

    Reproduces PyTorch's edges exactly: the upsampler replicate-pads the input, the downsampler
    replicate-pads the upsampled signal (its first sample, the even phase at frame 0, before it;
    its last, the odd phase at the last frame, after it). `lengths` `(B,)`: the valid frames of
    each example of a right-padded batch, which then ends there (frames after it are ignored,
    and the outputs there are of no use).
    """
    t = x.shape[1]
    if lengths is None:
        lengths = jnp.full((x.shape[0],), t)
    else:
        x = jnp.where((jnp.arange(t)[None, :] < lengths[:, None])[..., None], x,
                      _frame_of_each(x, jnp.maximum(lengths - 1, 0), log_alpha))
    padded = jnp.concatenate([jnp.repeat(x[:, :1], CONTEXT, 1), x, jnp.repeat(x[:, -1:], CONTEXT, 1)], axis=1)
    even, odd = _phases(padded, log_alpha, log_beta)
    first = even[:, 2:3]  # the even phase at frame 0: E[q] is frame q - 2, O[q] frame q - 3
    last = _frame_of_each(odd, lengths + 2, log_alpha)
    frame = jnp.arange(t + CONTEXT)[None, :, None]
    ends = lengths[:, None, None]
    even = jnp.where(frame < 2, first, jnp.where(frame - 2 >= ends, last, even))
    odd = jnp.where(frame < 3, first, jnp.where(frame - 3 >= ends, last, odd))
    return _downsample(even, odd)


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
