"""The official optimisers as Optax transformations: clip (PyTorch's rule), AdamW, warm-up/decay.

PyTorch's `clip_grad_norm_` scales by `max_norm / (norm + 1e-6)` clamped to 1, which differs from
`optax.clip_by_global_norm` by the 1e-6; we reproduce PyTorch's so training matches step for step.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections
import optax


def official_schedule(config: ml_collections.ConfigDict) -> optax.Schedule:
    """`initial + (peak - initial) n^2 / warmup^2` for n < warmup, then linear to `final` over
    `decay_steps` updates, then `final` (the official `WarmupLR`)."""
    initial, peak, final = config.initial_lr, config.peak_lr, config.final_lr
    warmup, decay = config.warmup_steps, config.decay_steps

    def schedule(count: jax.Array) -> jax.Array:
        n = jnp.asarray(count, jnp.float32)
        warm = initial + (peak - initial) * n ** 2 / max(warmup, 1) ** 2
        down = peak + (final - peak) * (n - warmup) / max(decay, 1)
        return jnp.where(n < warmup, warm, jnp.where(n < warmup + decay, down, final))

    return schedule


def global_norm(tree) -> jax.Array:
    """The L2 norm of all leaves together, in float32."""
    return jnp.sqrt(sum(jnp.sum(jnp.square(x.astype(jnp.float32))) for x in jax.tree.leaves(tree)))


def clip_by_global_norm_like_torch(max_norm: float) -> optax.GradientTransformation:
    """Scale updates by `min(1, max_norm / (global_norm + 1e-6))` (`torch.nn.utils.clip_grad_norm_`)."""

    def update(updates, state, params=None):
        del params
        scale = jnp.minimum(1.0, max_norm / (global_norm(updates) + 1e-6))
        return jax.tree.map(lambda g: (g * scale).astype(g.dtype), updates), state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update)


def make_optimizer(config: ml_collections.ConfigDict) -> optax.GradientTransformation:
    """Clipping, then AdamW with the official schedule; one instance per side (generator, discriminators)."""
    opt = config.optimizer
    return optax.chain(
        clip_by_global_norm_like_torch(opt.clip_norm),
        optax.adamw(official_schedule(config.schedule), b1=opt.b1, b2=opt.b2, eps=opt.eps,
                    weight_decay=opt.weight_decay),
    )
