"""Finite scalar quantisation with one residual stage (vector-quantize-pytorch 1.17.8 `ResidualFSQ`, eval).

The official X-Codec2 / NeuCodec quantiser is `ResidualFSQ(dim, levels=[4] * 8, num_quantizers=1)`:
project `dim` -> `len(levels)`, bound every value into its level range, round, and read the digits as one
code in `0 .. prod(levels) - 1` (first level least significant). Two details of that release matter:

- the value is bounded TWICE: `ResidualFSQ` bounds the projection once and hands the result to its `FSQ`
  layer, whose `quantize` bounds it again before rounding (`bounded` returns `bound(bound(z))`);
- `bound(z) = tanh(z + shift) * half_l - offset` with `half_l = (L - 1) * 1.001 / 2`, `offset = 0.5` for an
  even level count L (0 for odd) and `shift = atanh(offset / half_l)`, all float32 as PyTorch computes them.

The projection in and the bound and rounding always run in float32 at full matmul precision, so codes do
not depend on the compute dtype or the backend's default precision; only `project_out` uses `dtype`.
"""
from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

# PyTorch's default Linear initialisation: kaiming_uniform(a=sqrt(5)), bound 1/sqrt(fan_in).
_default_init = nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform")
_BOUND_EPS = 1e-3  # FSQ.bound's default: the range is widened by 0.1 % so that the extreme levels are reachable


def _bound_constants(levels: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(half_l, offset, shift) per level axis, float32 and rounded at the same steps as the official code."""
    lv = np.asarray(levels, np.float32)
    half_l = (lv - np.float32(1)) * np.float32(1 + _BOUND_EPS) / np.float32(2)
    offset = np.where(np.asarray(levels) % 2 == 0, np.float32(0.5), np.float32(0.0)).astype(np.float32)
    shift = np.arctanh(offset / half_l).astype(np.float32)
    return half_l, offset, shift


def _bound(z: jax.Array, levels: tuple[int, ...]) -> jax.Array:
    half_l, offset, shift = _bound_constants(levels)
    return jnp.tanh(z + shift) * half_l - offset


class ResidualFSQ(nn.Module):
    """One-stage residual FSQ on `(B, F, dim)`: `__call__` gives `(quantized (B, F, dim), codes (B, F) int32)`."""

    dim: int
    levels: tuple[int, ...] = (4,) * 8
    dtype: jnp.dtype = jnp.float32

    @property
    def codebook_size(self) -> int:
        return math.prod(self.levels)

    def setup(self) -> None:
        n = len(self.levels)
        self.project_in = nn.Dense(n, dtype=jnp.float32, precision=jax.lax.Precision.HIGHEST,
                                   kernel_init=_default_init)
        self.project_out = nn.Dense(self.dim, dtype=self.dtype, kernel_init=_default_init)

    def bounded(self, x: jax.Array) -> jax.Array:
        """`(B, F, len(levels))` float32: the values that are rounded (a code digit is `round + L // 2`).

        A value within float32 rounding of a half-integer is a tie whose code may differ between backends.
        """
        return _bound(_bound(self.project_in(x.astype(jnp.float32)), self.levels), self.levels)

    def _values(self, digits: jax.Array) -> jax.Array:
        """Digits `0 .. L - 1` -> the normalised code values `(digit - L // 2) / (L // 2)`."""
        half_width = np.asarray(self.levels, np.int32) // 2
        return ((digits - half_width).astype(jnp.float32) / half_width.astype(np.float32)).astype(self.dtype)

    def _basis(self) -> np.ndarray:
        return np.cumprod((1,) + tuple(self.levels[:-1])).astype(np.int32)

    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        half_width = np.asarray(self.levels, np.int32) // 2
        digits = jnp.round(self.bounded(x)).astype(jnp.int32) + half_width
        codes = jnp.sum(digits * self._basis(), axis=-1)
        return self.project_out(self._values(digits)), codes

    def embed(self, codes: jax.Array) -> jax.Array:
        """Codes `(B, F)` -> `(B, F, dim)`, the official `get_output_from_indices` (equal to `__call__`'s output)."""
        digits = (codes.astype(jnp.int32)[..., None] // self._basis()) % np.asarray(self.levels, np.int32)
        return self.project_out(self._values(digits))
