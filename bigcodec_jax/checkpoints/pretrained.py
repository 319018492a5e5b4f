"""Load weights from any supported source; the one place that tells the kinds of source apart.

A source is, in this order:
- an existing directory: a converted checkpoint (`config.json` + `params/`), or with `filename` the file
  of that name inside it (e.g. a downloaded hub snapshot);
- an existing file: a `.safetensors` file with the official tensor names (recognised by its header, whatever
  its name), else an official `.pt` / Lightning `.ckpt` (a PyTorch zip, read without running code);
- a model-hub id `owner/name[@revision]` (rules in `hub.py`), fetched through huggingface_hub's cache:
  `filename` in that repository, by default `bigcodec.pt`.
"""
from __future__ import annotations

import os
from typing import Any

import ml_collections

from bigcodec_jax.checkpoints import convert, hub, safetensors_format, store
from bigcodec_jax.checkpoints.torch_zip import CheckpointError


def resolve(source: str | os.PathLike, filename: str | None = None) -> str:
    """The local path a source stands for: the path itself (joined with `filename` when given), or a hub
    id's file downloaded into (or found in) the hub cache."""
    path = os.fspath(source)
    if os.path.exists(path):
        return os.path.join(path, filename) if filename else path
    if hub.parse(path):
        return hub.download(path, filename or hub.DEFAULT_FILENAME)
    raise CheckpointError(f"{path}: no such file or directory (and not a model-hub id owner/name[@revision])")


def read_sections(path: str | os.PathLike) -> convert.Sections:
    """The official state dicts of a checkpoint file: safetensors, released `.pt` or Lightning `.ckpt`."""
    if safetensors_format.is_safetensors(path):
        return safetensors_format.read_sections(path)
    return convert.read_sections(path)


def load(source: str | os.PathLike, filename: str | None = None
         ) -> tuple[ml_collections.ConfigDict, dict[str, Any]]:
    """(model config, {"generator": ..., ["discriminators": ...]}) as numpy arrays, from any source above."""
    path = resolve(source, filename)
    if os.path.isdir(path):
        return store.load(path)
    return convert.torch_to_flax(read_sections(path))
