"""Held-out evaluation while training: the fast metrics of the current generator, as `eval/<metric>` scalars."""
from __future__ import annotations

import jax
import ml_collections
from jax.experimental import multihost_utils

from bigcodec_jax import data, evaluation
from bigcodec_jax.api import BigCodec
from bigcodec_jax.training.state import Params


def host_params(params: Params) -> Params:
    """The full parameter values as numpy on this host; with several processes an all-gather, so every
    process must call it."""
    if jax.process_count() > 1:
        return multihost_utils.process_allgather(params, tiled=True)
    return jax.device_get(params)


class HeldOutEvaluation:
    """`hook(gen_params)`: evaluate on `data.eval_utterances(config.data)`, return `eval/...` scalars.

    Every process calls it (the parameters are gathered across processes); process 0 evaluates.
    """

    def __init__(self, config: ml_collections.ConfigDict):
        self._model_config = config.model
        self._batches = data.eval_utterances(config.data) if jax.process_index() == 0 else None

    def __call__(self, gen_params: Params) -> dict[str, float]:
        """The `eval/<metric>` scalars (empty on processes other than 0)."""
        params = host_params(gen_params)
        if self._batches is None:
            return {}
        scalars = evaluation.evaluate(BigCodec(self._model_config, params), self._batches).scalars()
        return {f"eval/{name}": value for name, value in scalars.items()}
