"""Load weights from any supported source; the one place that tells the kinds of source apart.

A source is, in this order (local paths and URLs such as gs://bucket/run alike, `paths.py`):
- an existing directory: a `train.py` run directory (`config.json` + `checkpoints/`: its latest
  checkpoint, or `step`), a converted checkpoint (`config.json` + `params/`), or with `filename` the file
  of that name inside it (e.g. a downloaded hub snapshot);
- an existing file: a `.safetensors` file with the official tensor names (recognised by its name or its
  header, `safetensors_format.is_safetensors`), else an official `.pt` / Lightning `.ckpt` (a PyTorch zip,
  read without running code);
- a model-hub id `owner/name[@revision]` (rules in `hub.py`), fetched through huggingface_hub's cache:
  `filename` in that repository, by default `bigcodec.pt`.
Files exported by this package carry their model config (checked field by field, `config.parse_model_config`);
for others it is inferred from the tensor shapes. Every tensor must be finite: a NaN or infinity is refused, named.
Remote files are downloaded to a temporary file and read from there; remote directories are read in place.
"""
from __future__ import annotations

import os
from typing import Any

import jax
import ml_collections
import numpy as np

from bigcodec_jax.checkpoints import hub, official, run_dir, safetensors_format, store
from bigcodec_jax.checkpoints.torch_zip import CheckpointError
from bigcodec_jax.errors import UsageError
from bigcodec_jax.io import download_cache, paths


def _not_there(path: str) -> str:
    return f"{path}: no such file or directory (and not a model-hub id owner/name[@revision])"


def check_source(source: str | os.PathLike, what: str = "--checkpoint") -> None:
    """UsageError (exit status 2) naming `what` when `source` is neither an existing path nor a hub id: the
    commands call it before they create any output, so that a mistyped path is a usage error that leaves
    nothing behind. (Whether a hub id exists is only known once it is fetched.)"""
    path = os.fspath(source)
    if not paths.exists(path) and not hub.parse(path):
        raise UsageError(f"{what} {_not_there(path)}")


def resolve(source: str | os.PathLike, filename: str | None = None) -> str:
    """The path a source stands for: the path itself (joined with `filename` when given), or a hub id's file
    downloaded into (or found in) the hub cache."""
    path = os.fspath(source)
    if paths.exists(path):
        return paths.join(path, filename) if filename else path
    if hub.parse(path):
        return hub.download(path, filename or hub.DEFAULT_FILENAME)
    raise CheckpointError(_not_there(path))


def read_file(path: str | os.PathLike) -> tuple[official.Sections, ml_collections.ConfigDict | None]:
    """The official state dicts of a checkpoint file (safetensors, released `.pt` or Lightning `.ckpt`) and the
    model config it embeds (files this package exports), validated, or None."""
    if safetensors_format.is_safetensors(path):
        return safetensors_format.read(path)
    return official.read(path)


def read_sections(path: str | os.PathLike) -> official.Sections:
    """The official state dicts of a checkpoint file."""
    return read_file(path)[0]


def load(source: str | os.PathLike, filename: str | None = None, step: int | None = None
         ) -> tuple[ml_collections.ConfigDict, dict[str, Any]]:
    """(model config, {"generator": ..., ["discriminators": ...]}) as numpy arrays, from any source above;
    CheckpointError for weights that are not all finite (a damaged file would otherwise give constant codes)."""
    path = resolve(source, filename)
    config, params = _load(path, step)
    check_finite(params, path)
    return config, params


def _load(path: str, step: int | None) -> tuple[ml_collections.ConfigDict, dict[str, Any]]:
    if run_dir.is_run(path):
        return run_dir.load(path, step)
    if step is not None:
        raise CheckpointError(f"step={step} applies to a train.py run directory, and {path} is not one "
                              f"(no {run_dir.CONFIG_FILE} and {run_dir.CHECKPOINTS_DIR}/ inside)")
    if paths.isdir(path):
        return store.load(path)
    with download_cache.local_copy(path) as local:
        try:
            sections, config = read_file(local)
        except CheckpointError as e:  # name the file as the user did, not its temporary download
            raise CheckpointError(str(e).replace(local, path)) from None
    try:
        return official.torch_to_flax(sections, config)
    except CheckpointError as e:
        raise CheckpointError(f"{path}: {e}") from None


def check_finite(params: dict[str, Any], path: str) -> None:
    """CheckpointError naming the first tensor of `params` (by its path in the tree) with a NaN or infinite value."""
    for keys, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        values = np.asarray(leaf)
        if not np.isfinite(values).all():
            name = "/".join(str(getattr(key, "key", key)) for key in keys)
            bad = int(values.size - np.count_nonzero(np.isfinite(values)))
            raise CheckpointError(f"{path}: tensor {name} has {bad:,} NaN or infinite values (of {values.size:,}); "
                                  "the checkpoint is damaged")
