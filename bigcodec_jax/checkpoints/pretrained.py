"""Load weights from any supported source: an official `.pt` / Lightning `.ckpt` or a converted directory."""
from __future__ import annotations

import os
from typing import Any

import ml_collections

from bigcodec_jax.checkpoints import convert, store


def load(path: str | os.PathLike) -> tuple[ml_collections.ConfigDict, dict[str, Any]]:
    """(model config, {"generator": ..., ["discriminators": ...]}) as numpy arrays."""
    path = os.fspath(path)
    if os.path.isdir(path):
        return store.load(path)
    return convert.torch_to_flax(convert.read_sections(path))
