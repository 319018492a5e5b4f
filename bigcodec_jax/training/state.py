"""Everything a run needs to continue exactly: parameters, both optimiser states, counters."""
from __future__ import annotations

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import ml_collections
import optax

from bigcodec_jax.codec import BigCodecModel
from bigcodec_jax.codec.discriminators import Discriminators
from bigcodec_jax.codec.config import freeze, hop_length

Params = Any


class TrainState(flax.struct.PyTreeNode):
    step: jax.Array             # updates done (int32 scalar)
    gen_params: Params          # {"encoder", "quantizer", "decoder"}: float32 master weights
    disc_params: Params         # {"mpd", "mstft"}
    gen_opt_state: optax.OptState
    disc_opt_state: optax.OptState
    nonfinite_in_a_row: jax.Array   # consecutive steps with a skipped update (int32)
    nonfinite_total: jax.Array      # all skipped updates, generator and discriminator (int32)


class Models(flax.struct.PyTreeNode):
    """The two Flax modules and their optimisers (static: they hold no arrays)."""

    generator: BigCodecModel = flax.struct.field(pytree_node=False)
    discriminators: Discriminators = flax.struct.field(pytree_node=False)
    gen_tx: optax.GradientTransformation = flax.struct.field(pytree_node=False)
    disc_tx: optax.GradientTransformation = flax.struct.field(pytree_node=False)


def init_params(models: Models, config: ml_collections.ConfigDict, rng: jax.Array) -> tuple[Params, Params]:
    """Fresh (generator, discriminator) parameters, initialised as the official modules are."""
    wav = jnp.zeros((1, hop_length(config.model)), jnp.float32)
    gen_rng, disc_rng = jax.random.split(rng)
    return (models.generator.init(gen_rng, wav)["params"], models.discriminators.init(disc_rng, wav)["params"])


def create_state(models: Models, gen_params: Params, disc_params: Params) -> TrainState:
    zero = jnp.zeros((), jnp.int32)
    return TrainState(step=zero, gen_params=gen_params, disc_params=disc_params,
                      gen_opt_state=models.gen_tx.init(gen_params), disc_opt_state=models.disc_tx.init(disc_params),
                      nonfinite_in_a_row=zero, nonfinite_total=zero)


def build_models(config: ml_collections.ConfigDict) -> Models:
    """The generator and discriminators in the configured compute dtype, and one optimiser each."""
    from bigcodec_jax.training.optim import make_optimizer

    dtype = jnp.dtype(config.compute_dtype)
    return Models(BigCodecModel(freeze(config.model), dtype), Discriminators(config.model, dtype),
                  make_optimizer(config), make_optimizer(config))
