"""`train.py` run directories, read as checkpoints: train -> listen -> release without a conversion step.

Layout of a run directory (written by `training/trainer.py` and `training/checkpointing.py`):
    config.json                  the whole training config; its `model` section is the model config
    checkpoints/<step>/state/    Orbax tree of the train state (`gen_params`, `disc_params`, optimisers, ...)
    checkpoints/<step>/data/     the data iterator position
Only the parameters are read, without the optimiser states (partial restore, as numpy arrays).
"""
from __future__ import annotations

import contextlib
import json
import os
from typing import Any

import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp
from absl import logging as absl_logging

from bigcodec_jax import config as config_lib
from bigcodec_jax.checkpoints.torch_zip import CheckpointError
from bigcodec_jax.io import paths

CONFIG_FILE = "config.json"
CHECKPOINTS_DIR = "checkpoints"
STATE_ITEM = "state"
DATA_ITEM = "data_position"  # JSON: the global batch count and bad-example counters
# Parts of a converted checkpoint -> fields of the train state that hold them.
PARAMS_FIELDS = {"generator": "gen_params", "discriminators": "disc_params"}


def is_run(path: str | os.PathLike) -> bool:
    return paths.isfile(paths.join(path, CONFIG_FILE)) and paths.isdir(paths.join(path, CHECKPOINTS_DIR))


def steps(path: str | os.PathLike) -> list[int]:
    """The steps of the run's complete (finalised) checkpoints, oldest first."""
    return sorted(ocp.utils.checkpoint_steps(paths.join(paths.absolute(path), CHECKPOINTS_DIR)))


@contextlib.contextmanager
def _quiet_orbax():
    """Orbax warns that a composite checkpoint's item has no metadata file of its own: nothing a user can act on."""
    verbosity = absl_logging.get_verbosity()
    absl_logging.set_verbosity(absl_logging.ERROR)
    try:
        yield
    finally:
        absl_logging.set_verbosity(verbosity)


def model_config(path: str | os.PathLike) -> ml_collections.ConfigDict:
    try:
        return config_lib.from_dict(json.loads(paths.read_text(paths.join(path, CONFIG_FILE)))["model"])
    except Exception as e:  # damaged JSON, no model section, a bad model config: several types
        raise CheckpointError(f"{paths.join(path, CONFIG_FILE)} does not hold a training config with a model "
                              f"({type(e).__name__}: {e})") from None


def load(path: str | os.PathLike, step: int | None = None) -> tuple[ml_collections.ConfigDict, dict[str, Any]]:
    """(model config, {"generator": ..., "discriminators": ...}) of the run's checkpoint at `step` (default:
    the latest), as numpy arrays."""
    path = paths.absolute(path)
    available = steps(path)
    if not available:
        raise CheckpointError(f"the training run {path} has no complete checkpoint yet")
    step = available[-1] if step is None else step
    if step not in available:
        raise CheckpointError(f"the training run {path} has no checkpoint of step {step} "
                              f"(it has {', '.join(map(str, available))})")
    config = model_config(path)
    state_dir = paths.join(path, CHECKPOINTS_DIR, str(step), STATE_ITEM)
    checkpointer = ocp.PyTreeCheckpointer()
    try:
        with _quiet_orbax():
            saved = checkpointer.metadata(state_dir).item_metadata.tree
            item = {field: jax.tree.map(lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype), saved[field])
                    for field in PARAMS_FIELDS.values()}
            restore_args = jax.tree.map(lambda _: ocp.RestoreArgs(restore_type=np.ndarray), item)
            restored = checkpointer.restore(state_dir, args=ocp.args.PyTreeRestore(
                item=item, restore_args=restore_args, partial_restore=True))
    except Exception as e:  # a damaged Orbax tree: Orbax and TensorStore raise many types
        raise CheckpointError(f"the checkpoint of step {step} in {path} cannot be read ({type(e).__name__}: "
                              f"{' '.join(str(e).split())[:300]})") from None
    return config, {part: restored[field] for part, field in PARAMS_FIELDS.items()}
