"""Converted checkpoints on disk: an Orbax tree of the Flax parameters plus the model config as JSON.

Layout of a converted directory:
    config.json   the model config (fields of the official constructors)
    params/       Orbax checkpoint of {"generator": ..., ["discriminators": ...]}
"""
from __future__ import annotations

import json
import os
from typing import Any

import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp

from bigcodec_jax import config as config_lib
from bigcodec_jax.checkpoints.torch_zip import CheckpointError

CONFIG_FILE = "config.json"
PARAMS_DIR = "params"


def is_converted(path: str | os.PathLike) -> bool:
    return os.path.isfile(os.path.join(path, CONFIG_FILE)) and os.path.isdir(os.path.join(path, PARAMS_DIR))


def save(directory: str | os.PathLike, config: ml_collections.ConfigDict, params: dict[str, Any]) -> None:
    """Write `params` and `config` to `directory` (created; an existing conversion is replaced)."""
    directory = os.path.abspath(directory)
    os.makedirs(directory, exist_ok=True)
    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save(os.path.join(directory, PARAMS_DIR), jax.tree.map(np.asarray, params), force=True)
    checkpointer.wait_until_finished()
    with open(os.path.join(directory, CONFIG_FILE), "w") as f:
        f.write(config_lib.to_json(config))


def load(directory: str | os.PathLike) -> tuple[ml_collections.ConfigDict, dict[str, Any]]:
    """(config, params) of a converted directory; params as numpy arrays."""
    directory = os.path.abspath(directory)
    if not is_converted(directory):
        raise CheckpointError(f"{directory} is neither a converted BigCodec checkpoint (no {CONFIG_FILE} and "
                              f"{PARAMS_DIR}/ inside) nor a train.py run directory")
    with open(os.path.join(directory, CONFIG_FILE)) as f:
        config = config_lib.from_dict(json.load(f))
    params = ocp.StandardCheckpointer().restore(os.path.join(directory, PARAMS_DIR))
    return config, jax.tree.map(np.asarray, params)
