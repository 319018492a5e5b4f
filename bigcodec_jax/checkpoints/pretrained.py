"""Load weights from any supported source: an official `.pt` / Lightning `.ckpt`, a converted directory,
or a `train.py` run directory (its latest checkpoint, or `step`)."""
from __future__ import annotations

import os
from typing import Any

import ml_collections

from bigcodec_jax.checkpoints import official, run_dir, store
from bigcodec_jax.checkpoints.torch_zip import CheckpointError


def load(path: str | os.PathLike, step: int | None = None) -> tuple[ml_collections.ConfigDict, dict[str, Any]]:
    """(model config, {"generator": ..., ["discriminators": ...]}) as numpy arrays."""
    path = os.fspath(path)
    if run_dir.is_run(path):
        return run_dir.load(path, step)
    if step is not None:
        raise CheckpointError(f"step={step} applies to a train.py run directory, and {path} is not one "
                              f"(no {run_dir.CONFIG_FILE} and {run_dir.CHECKPOINTS_DIR}/ inside)")
    if os.path.isdir(path):
        return store.load(path)
    return official.load(path)
