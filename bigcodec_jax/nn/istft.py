"""The Vocos ISTFT head: frames -> log-magnitude and phase -> "same"-padded inverse STFT -> audio.

The official `ISTFT(padding="same")` inverse-FFTs every frame (`n_fft = win_length = 4 * hop`, periodic Hann
window), overlap-adds the windowed frames, cuts `(n_fft - hop) // 2` samples from each end (so `F` frames
give `F * hop` samples) and divides by the overlap-added squared window. With `n_fft = 4 * hop` the
overlap-add is the sum of four hop-sized slices of every frame, each shifted by its index: no loop over
frames. With valid `lengths`, padded frames' spectra are zero and each example divides by the envelope of a
run of its own length (which tapers at its end as the official envelope does), so a right-padded batch gives
each example exactly its audio alone, followed by zeros.
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from bigcodec_jax.nn.masking import valid_frames
from bigcodec_jax.nn.spectral import hann_window

Lengths = jax.Array | None

# PyTorch's default Linear initialisation: kaiming_uniform(a=sqrt(5)), bound 1/sqrt(fan_in).
_default_init = nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform")
MAX_MAGNITUDE = 1e2  # the official safeguard against excessively large magnitudes
_OVERLAP = 4         # n_fft / hop


def overlap_add(frames: jax.Array, hop: int) -> jax.Array:
    """`(B, F, 4 * hop)` -> `(B, (F + 3) * hop)`: frame f added at sample `f * hop`."""
    b, f, n = frames.shape
    if n != _OVERLAP * hop:
        raise ValueError(f"overlap_add needs frames of 4 * hop = {_OVERLAP * hop} samples, got {n}")
    parts = frames.reshape(b, f, _OVERLAP, hop)
    out = sum(jnp.pad(parts[:, :, k], ((0, 0), (k, _OVERLAP - 1 - k), (0, 0))) for k in range(_OVERLAP))
    return out.reshape(b, (f + _OVERLAP - 1) * hop)


def istft_same(spec: jax.Array, hop: int, lengths: Lengths = None) -> jax.Array:
    """Complex `(B, F, 2 * hop + 1)` spectra -> float32 audio `(B, F * hop)` (see the module docstring).

    Samples after `lengths * hop` are zero.
    """
    b, f, _ = spec.shape
    n_fft = _OVERLAP * hop
    window = jnp.asarray(hann_window(n_fft, n_fft))
    valid = jnp.ones((b, f), bool) if lengths is None else valid_frames(lengths, f)
    spec = jnp.where(valid[..., None], spec, jnp.zeros((), spec.dtype))
    frames = jnp.fft.irfft(spec, n=n_fft, axis=-1).astype(jnp.float32) * window
    envelope = overlap_add(jnp.broadcast_to(valid[..., None], (b, f, n_fft)) * jnp.square(window), hop)
    pad = (n_fft - hop) // 2
    total = (f + _OVERLAP - 1) * hop
    y, envelope = overlap_add(frames, hop)[:, pad:total - pad], envelope[:, pad:total - pad]
    inside = envelope > 1e-11
    if lengths is not None:
        inside &= jnp.arange(f * hop)[None, :] < lengths[:, None] * hop
    return jnp.where(inside, y / jnp.where(inside, envelope, 1.0), 0.0)


class ISTFTHead(nn.Module):
    """`(B, F, dim)` -> float32 audio `(B, F * hop)`: Linear `out` to `n_fft + 2`, `exp` magnitude, phase."""

    hop: int

    @nn.compact
    def __call__(self, x: jax.Array, lengths: Lengths = None) -> jax.Array:
        bins = 2 * self.hop + 1  # n_fft // 2 + 1
        pred = nn.Dense(2 * bins, dtype=jnp.float32, kernel_init=_default_init, name="out")(x.astype(jnp.float32))
        magnitude = jnp.minimum(jnp.exp(pred[..., :bins]), MAX_MAGNITUDE)
        phase = pred[..., bins:]
        spec = jax.lax.complex(magnitude * jnp.cos(phase), magnitude * jnp.sin(phase))
        return istft_same(spec, self.hop, lengths)
