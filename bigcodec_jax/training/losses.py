"""The official adversarial objective: LSGAN and feature matching (the mel loss is `nn.spectral.mel_distance`).

Every loss is computed in float32 whatever the compute dtype, and each mean is over all elements
of a tensor, as PyTorch's `mse_loss` / `l1_loss`. Discriminator outputs are lists (one per
sub-discriminator) of feature lists whose last entry is the score map.
"""
from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp

Outputs = Sequence[Sequence[jax.Array]]


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
