"""One GAN training step in the official order, as a pure function of (state, batch).

1. generator forward (its VJP kept, as PyTorch keeps the graph);
2. discriminator update on the detached reconstruction;
3. generator update with the adversarial and feature-matching losses taken through the
   *updated* discriminators, back-propagated through the step-1 forward.
An update whose loss or gradient is not finite is skipped (parameters and optimiser state kept)
and counted; the loop stops the run after too many in a row.
"""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import ml_collections
import optax

from bigcodec_jax.evaluation.code_statistics import code_histograms, histogram_statistics
from bigcodec_jax.nn.spectral import mel_distance
from bigcodec_jax.training import losses
from bigcodec_jax.training.optim import global_norm, official_schedule
from bigcodec_jax.training.state import Models, TrainState

Metrics = dict[str, jax.Array]


def _finite(loss: jax.Array, grad_norm: jax.Array) -> jax.Array:
    """Whether an update may be applied: its loss and gradient norm are finite (a NaN or inf anywhere in the
    gradients makes the norm non-finite). One scalar test instead of one per tensor: per-tensor tests feeding
    every `where` below multiply the kernels XLA's CPU compiler pays for (docs/benchmarks.md, "Training
    step")."""
    return jnp.isfinite(loss) & jnp.isfinite(grad_norm)


def _apply_if(ok: jax.Array, tx: optax.GradientTransformation, grads, opt_state, params):
    """`tx` update of `params` when `ok`, else the unchanged parameters and optimiser state."""
    updates, new_opt_state = tx.update(grads, opt_state, params)
    new_params = optax.apply_updates(params, updates)
    keep = lambda new, old: jnp.where(ok, new, old)  # noqa: E731
    return jax.tree.map(keep, new_params, params), jax.tree.map(keep, new_opt_state, opt_state)


def _split(outputs: list[list[jax.Array]]) -> tuple[list[list[jax.Array]], list[list[jax.Array]]]:
    """Discriminator outputs of a batch `[a; b]` -> (outputs of a, outputs of b)."""
    first = [[f[: f.shape[0] // 2] for f in fs] for fs in outputs]
    second = [[f[f.shape[0] // 2:] for f in fs] for fs in outputs]
    return first, second


def codebook_metrics(codes: jax.Array, codebook_size: int) -> Metrics:
    """Per quantiser: fraction of the codebook used in this batch and the codes' perplexity."""
    usage, perplexity = histogram_statistics(code_histograms(codes, codebook_size))
    return {**{f"codebook/usage_{q}": u for q, u in enumerate(usage)},
            **{f"codebook/perplexity_{q}": p for q, p in enumerate(perplexity)}}


def make_train_step(models: Models, config: ml_collections.ConfigDict, debug: bool = False
                    ) -> Callable[[TrainState, jax.Array], tuple[TrainState, Metrics]]:
    """`train_step(state, wav (B, T)) -> (state, metrics)`, to be jitted by the caller.

    `debug` adds the unclipped gradients (`grads/gen`, `grads/disc`) and the codes to the metrics.
    """
    lam = config.loss
    gen, disc = models.generator, models.discriminators
    schedule = official_schedule(config.schedule)

    def train_step(state: TrainState, wav: jax.Array) -> tuple[TrainState, Metrics]:
        wav = wav.astype(jnp.float32)

        def generator_forward(params):
            out = gen.apply({"params": params}, wav)
            return (out.recon, out.vq_loss), out.codes

        (recon, vq_losses), gen_vjp, codes = jax.vjp(generator_forward, state.gen_params, has_aux=True)

        def disc_loss_fn(params):
            real, fake = _split(disc.apply({"params": params}, jnp.concatenate([wav, jax.lax.stop_gradient(recon)])))
            real_loss, fake_loss = losses.discriminator_losses(real, fake)
            return lam.lambda_disc * (real_loss + fake_loss), (real_loss, fake_loss)

        (disc_loss, (real_loss, fake_loss)), disc_grads = jax.value_and_grad(disc_loss_fn, has_aux=True)(
            state.disc_params)
        disc_grad_norm = global_norm(disc_grads)
        disc_ok = _finite(disc_loss, disc_grad_norm)
        disc_params, disc_opt_state = _apply_if(disc_ok, models.disc_tx, disc_grads, state.disc_opt_state,
                                                state.disc_params)

        def gen_loss_fn(recon_and_vq):
            recon_, vq_losses_ = recon_and_vq
            fake, real_features = _split(disc.apply({"params": disc_params}, jnp.concatenate([recon_, wav])))
            parts = {"mel_loss": mel_distance(recon_, wav, lam.mel),
                     "adv_loss": losses.adversarial_loss(fake),
                     "fm_loss": losses.feature_matching_loss(fake, real_features),
                     "vq_loss": jnp.sum(vq_losses_)}
            total = (lam.lambda_mel * parts["mel_loss"] + lam.lambda_adv * parts["adv_loss"]
                     + lam.lambda_feat_match * parts["fm_loss"] + parts["vq_loss"])
            return total, parts

        (gen_loss, parts), output_grads = jax.value_and_grad(gen_loss_fn, has_aux=True)((recon, vq_losses))
        (gen_grads,) = gen_vjp(output_grads)
        gen_grad_norm = global_norm(gen_grads)
        gen_ok = _finite(gen_loss, gen_grad_norm)
        gen_params, gen_opt_state = _apply_if(gen_ok, models.gen_tx, gen_grads, state.gen_opt_state,
                                              state.gen_params)

        skipped = (~gen_ok).astype(jnp.int32) + (~disc_ok).astype(jnp.int32)
        new_state = state.replace(
            step=state.step + 1, gen_params=gen_params, disc_params=disc_params, gen_opt_state=gen_opt_state,
            disc_opt_state=disc_opt_state,
            nonfinite_in_a_row=jnp.where(skipped > 0, state.nonfinite_in_a_row + 1, 0),
            nonfinite_total=state.nonfinite_total + skipped)
        metrics = {"loss/gen": gen_loss, "loss/disc": disc_loss, "loss/real": real_loss, "loss/fake": fake_loss,
                   **{f"loss/{k.removesuffix('_loss')}": v for k, v in parts.items()},
                   "grad_norm/gen": gen_grad_norm, "grad_norm/disc": disc_grad_norm,
                   "lr": schedule(state.step),  # nominal: skipped updates do not advance the optimisers
                   "nonfinite/skipped_gen": (~gen_ok).astype(jnp.int32),
                   "nonfinite/skipped_disc": (~disc_ok).astype(jnp.int32),
                   **codebook_metrics(codes, config.model.decoder.codebook_size)}
        if debug:
            metrics.update({"grads/gen": gen_grads, "grads/disc": disc_grads, "codes": codes})
        return new_state, metrics

    return train_step

