"""Converted checkpoints on disk: an Orbax tree of the Flax parameters plus the model config as JSON.

Layout of a converted directory:
    config.json   the model config (fields of the official constructors)
    params/       Orbax checkpoint of {"generator": ..., ["discriminators": ...]}

Saving never deletes what it did not write: a directory that already holds a `config.json` or a
`params/` is refused unless `overwrite=True`, and even then only a converted checkpoint (as `save`
writes it) is replaced, after the new one is completely written. The directory may be a URL
(gs://bucket/model, `paths.py`); object stores cannot rename, so there a replaced `params/` is
deleted before the new one is written (Orbax marks it complete only at the end).
"""
from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp

from bigcodec_jax.checkpoints.official import embedded_config
from bigcodec_jax.checkpoints.torch_zip import CheckpointError
from bigcodec_jax.codec import config as config_lib
from bigcodec_jax.io import paths, staged

CONFIG_FILE = "config.json"
PARAMS_DIR = "params"
ORBAX_MARKER = "_CHECKPOINT_METADATA"  # written by Orbax into every checkpoint it completes


def is_converted(path: str | os.PathLike) -> bool:
    return paths.isfile(paths.join(path, CONFIG_FILE)) and paths.isdir(paths.join(path, PARAMS_DIR))


def check_destination(directory: str | os.PathLike, overwrite: bool = False) -> None:
    """Raise FileExistsError (or NotADirectoryError) unless `save(directory, ...)` may write there."""
    directory = os.fspath(directory)
    if paths.isfile(directory):
        raise NotADirectoryError(f"{directory} is a file; a converted checkpoint is a folder")
    present = [name for name in (CONFIG_FILE, PARAMS_DIR) if paths.occupied(paths.join(directory, name))]
    if not present:
        return
    ours = is_converted(directory) and paths.isfile(paths.join(directory, PARAMS_DIR, ORBAX_MARKER))
    if not overwrite:
        raise FileExistsError(f"{directory} already holds {' and '.join(present)}"
                              + ("; pass --overwrite (overwrite=True) to replace that converted checkpoint" if ours
                                 else ", which are not a converted checkpoint; choose another folder"))
    if not ours:
        raise FileExistsError(f"{directory} holds {' and '.join(present)}, which are not a converted checkpoint: "
                              "refusing to replace them; choose another folder")


def save(directory: str | os.PathLike, config: ml_collections.ConfigDict, params: dict[str, Any],
         overwrite: bool = False) -> None:
    """Write `params` and `config` to `directory` (created); an existing conversion is replaced only with
    `overwrite`, and only once the new parameters are completely written (see `check_destination`)."""
    directory = paths.absolute(directory)
    check_destination(directory, overwrite)
    params = jax.tree.map(np.asarray, params)
    if paths.is_remote(directory):
        checkpointer = ocp.StandardCheckpointer()
        checkpointer.save(paths.join(directory, PARAMS_DIR), params, force=overwrite)
        checkpointer.wait_until_finished()
        staged.write_text(paths.join(directory, CONFIG_FILE), config_lib.to_json(config))
        return
    os.makedirs(directory, exist_ok=True)
    staging = tempfile.mkdtemp(dir=directory, prefix=".partial-")
    try:
        checkpointer = ocp.StandardCheckpointer()
        checkpointer.save(os.path.join(staging, PARAMS_DIR), params)
        checkpointer.wait_until_finished()
        target = os.path.join(directory, PARAMS_DIR)
        if os.path.isdir(target):
            os.replace(target, os.path.join(staging, "replaced"))
        os.replace(os.path.join(staging, PARAMS_DIR), target)
        staged.write_text(os.path.join(directory, CONFIG_FILE), config_lib.to_json(config))
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def load(directory: str | os.PathLike) -> tuple[ml_collections.ConfigDict, dict[str, Any]]:
    """(config, params) of a converted directory; params as numpy arrays."""
    directory = paths.absolute(directory)
    if not is_converted(directory):
        raise CheckpointError(f"{directory} is neither a converted BigCodec checkpoint (no {CONFIG_FILE} and "
                              f"{PARAMS_DIR}/ inside) nor a train.py run directory")
    config_file = paths.join(directory, CONFIG_FILE)
    config = embedded_config(paths.read_bytes(config_file), config_file)
    try:
        params = ocp.StandardCheckpointer().restore(paths.join(directory, PARAMS_DIR))
    except Exception as e:  # a damaged Orbax tree: Orbax and TensorStore raise many types
        raise CheckpointError(f"{directory} is a damaged converted checkpoint ({type(e).__name__}: "
                              f"{' '.join(str(e).split())[:300]})") from None
    return config, jax.tree.map(np.asarray, params)
