"""The official training objective: multi-resolution mel loss, LSGAN and feature matching.

Every loss is computed in float32 whatever the compute dtype, and each mean is over all elements
of a tensor, as PyTorch's `mse_loss` / `l1_loss`. Discriminator outputs are lists (one per
sub-discriminator) of feature lists whose last entry is the score map.
"""
from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
import ml_collections

from bigcodec_jax.nn.spectral import mel_spectrogram

Outputs = Sequence[Sequence[jax.Array]]


def mel_config() -> ml_collections.ConfigDict:
    """The official seven resolutions: window = FFT size 32 ... 2048, 5 ... 320 mel bands."""
    return ml_collections.ConfigDict(dict(sample_rate=16000, window_lengths=[32, 64, 128, 256, 512, 1024, 2048],
                                          n_mels=[5, 10, 20, 40, 80, 160, 320], clamp_eps=1e-5))


def mel_loss(recon: jax.Array, target: jax.Array, config: ml_collections.ConfigDict) -> jax.Array:
    """Sum over resolutions of `mean |log10 max(M(recon), eps) - log10 max(M(target), eps)|`."""
    total = jnp.float32(0.0)
    for n_fft, n_mels in zip(config.window_lengths, config.n_mels):
        log_mel = lambda x: jnp.log10(jnp.maximum(  # noqa: E731
            mel_spectrogram(x.astype(jnp.float32), config.sample_rate, n_fft, n_mels), config.clamp_eps))
        total = total + jnp.mean(jnp.abs(log_mel(recon) - log_mel(target)))
    return total


def _f32(x: jax.Array) -> jax.Array:
    return x.astype(jnp.float32)


def discriminator_losses(real: Outputs, fake: Outputs) -> tuple[jax.Array, jax.Array]:
    """(sum of `mean((D(y) - 1)^2)`, sum of `mean(D(y_hat)^2)`) over sub-discriminators."""
    real_loss = sum(jnp.mean((_f32(r[-1]) - 1.0) ** 2) for r in real)
    fake_loss = sum(jnp.mean(_f32(f[-1]) ** 2) for f in fake)
    return real_loss, fake_loss


def adversarial_loss(fake: Outputs) -> jax.Array:
    """Sum over sub-discriminators of `mean((D(y_hat) - 1)^2)`."""
    return sum(jnp.mean((_f32(f[-1]) - 1.0) ** 2) for f in fake)


def feature_matching_loss(fake: Outputs, real: Outputs) -> jax.Array:
    """Sum over sub-discriminators and all their layers but the score of `mean |D_l(y_hat) - D_l(y)|`,
    the real features taken as constants."""
    return sum(jnp.mean(jnp.abs(_f32(f) - jax.lax.stop_gradient(_f32(r))))
               for fs, rs in zip(fake, real) for f, r in zip(fs[:-1], rs[:-1]))
