"""Load weights from any supported source, of any family; the one place that tells the kinds of source apart.

A source is, in this order (local paths and URLs such as gs://bucket/run alike, `paths.py`):
- an existing directory: a `train.py` run directory (`config.json` + `checkpoints/`: its latest
  checkpoint, or `step`), a converted checkpoint of any family (`config.json` + `params/`), with `filename`
  the file of that name inside it, else the first of `FOLDER_FILES` in it (e.g. a downloaded hub snapshot);
- an existing file, read once:
  - `.safetensors` (recognised by its name or its header, `safetensors_format.is_safetensors`): BigCodec's
    official names, X-Codec2's release (`model.safetensors`), transformers' X-Codec2 port (its sizes from the
    `config.json` beside it, `xcodec2_hf.py`), or our export of any family (the config in its metadata);
  - else a PyTorch zip, read without running code: BigCodec's `.pt` / Lightning `.ckpt`, X-Codec2's Lightning
    `.ckpt` or NeuCodec's `pytorch_model.bin` (a flat state dict with the family's tensors);
- a model-hub id `owner/name[@revision]` (rules in `hub.py`), fetched through huggingface_hub's cache:
  `filename` in that repository, by default the known repositories' weights (`hub.REPOSITORY_FILES`:
  HKUSTAudio/xcodec2, HKUSTAudio/xcodec2-hf, neuphonic/neucodec), else `bigcodec.pt`.
Files exported by this package carry their model config (checked field by field, `model_configs.parse`);
for others it is inferred from the tensor shapes. X-Codec2 / NeuCodec files may lack the semantic model
(w2v-BERT): `semantic` is then a second source, `semantic_weights`. Every tensor must be finite: a NaN or
infinity is refused, named. Remote files are downloaded to a temporary file and read from there; remote
directories are read in place. Params come back as {"generator": ...} (BigCodec) or {"model": ...} (the family).
"""
from __future__ import annotations

import json
import os
from typing import Any

import jax
import ml_collections
import numpy as np

from bigcodec_jax import model_configs
from bigcodec_jax.checkpoints import (hub, official, run_dir, safetensors_format, store, torch_zip, xcodec2_hf,
                                      xcodec2_layout)
from bigcodec_jax.checkpoints.torch_zip import CheckpointError
from bigcodec_jax.errors import UsageError
from bigcodec_jax.io import download_cache, paths
from bigcodec_jax.model_configs import BIGCODEC

SEMANTIC_HELP = ("X-Codec2 / NeuCodec: where the semantic model's weights come from when the checkpoint lacks them: "
                 "facebook/w2v-bert-2.0 (hub id), the path of its model.safetensors, or its folder")

def _not_there(path: str) -> str:
    return f"{path}: no such file or directory (and not a model-hub id owner/name[@revision])"


def check_source(source: str | os.PathLike, what: str = "--checkpoint") -> None:
    """UsageError (exit status 2) naming `what` when `source` is neither an existing path nor a hub id: the
    commands call it before they create any output, so that a mistyped path is a usage error that leaves
    nothing behind. (Whether a hub id exists is only known once it is fetched.)"""
    path = os.fspath(source)
    if not paths.exists(path) and not hub.parse(path):
        raise UsageError(f"{what} {_not_there(path)}")


def check_sources(checkpoint: str | os.PathLike, semantic: str | os.PathLike | None) -> None:
    """`check_source` for a command's `--checkpoint` and, when given, its `--semantic`."""
    check_source(checkpoint)
    if semantic is not None:
        check_source(semantic, "--semantic")


def resolve(source: str | os.PathLike, filename: str | None = None, default: str = hub.DEFAULT_FILENAME) -> str:
    """The path a source stands for: the path itself (joined with `filename` when given), or a hub id's file
    downloaded into (or found in) the hub cache (`filename`, else the repository's weights, `hub.weights_file`,
    with the files read beside them)."""
    path = os.fspath(source)
    if paths.exists(path):
        return paths.join(path, filename) if filename else path
    if hub.parse(path):
        weights, beside = hub.weights_file(path, default)
        if filename in (None, weights):
            for name in beside:
                hub.download(path, name)
        return hub.download(path, filename or weights)
    raise CheckpointError(_not_there(path))


def read_file(path: str | os.PathLike) -> tuple[official.Sections, ml_collections.ConfigDict | None]:
    """The official state dicts of a BigCodec checkpoint file (safetensors, released `.pt` or Lightning `.ckpt`)
    and the model config it embeds (files this package exports), validated, or None."""
    if safetensors_format.is_safetensors(path):
        return safetensors_format.read(path)
    return official.read(path)


def read_sections(path: str | os.PathLike) -> official.Sections:
    """The official state dicts of a BigCodec checkpoint file."""
    return read_file(path)[0]


def load(source: str | os.PathLike, filename: str | None = None, step: int | None = None,
         semantic: str | os.PathLike | None = None, config: ml_collections.ConfigDict | None = None,
         family: str | None = None) -> tuple[ml_collections.ConfigDict, dict[str, Any]]:
    """(model config, params as numpy arrays) from any source above: {"generator": ..., ["discriminators": ...]}
    for BigCodec, {"model": ...} for X-Codec2 / NeuCodec (`model_configs.family(config)` tells which).

    `semantic`: the w2v-BERT weights' source for a family checkpoint (`semantic_weights`). `config`: the model
    config instead of the one embedded or inferred (shapes do not tell the family decoder's attention heads).
    `family`: the family the caller builds; a checkpoint of another is refused naming the class that loads it.
    CheckpointError for weights that are not all finite (a damaged file would otherwise give constant codes)."""
    path = resolve(source, filename)
    config, params = _load(path, step, semantic, config, family)
    check_finite(params, path)
    return config, params


FOLDER_FILES = ("model.safetensors", "pytorch_model.bin", hub.DEFAULT_FILENAME)  # read from a folder, in order
_CLASSES = {BIGCODEC: "BigCodec", "xcodec2": "XCodec2", "neucodec": "NeuCodec"}
_HOLDS = {BIGCODEC: "a BigCodec", "xcodec2": "an X-Codec2", "neucodec": "a NeuCodec"}


def _expect(path: str, found: str, wanted: str | None) -> None:
    if wanted is not None and found != wanted:
        raise CheckpointError(f"{path} holds {_HOLDS[found]} checkpoint, not {_HOLDS[wanted]} one: load it with "
                              f"{_CLASSES[found]}.from_pretrained or load_codec")


def _load(path: str, step: int | None, semantic: str | os.PathLike | None, config: ml_collections.ConfigDict | None,
          family: str | None) -> tuple[ml_collections.ConfigDict, dict[str, Any]]:
    if run_dir.is_run(path):
        _expect(path, BIGCODEC, family)
        _no_semantic(path, semantic, "a train.py run directory")
        return run_dir.load(path, step)
    if step is not None:
        raise CheckpointError(f"step={step} applies to a train.py run directory, and {path} is not one "
                              f"(no {run_dir.CONFIG_FILE} and {run_dir.CHECKPOINTS_DIR}/ inside)")
    if paths.isdir(path):
        if store.is_converted(path):
            loaded, params = store.load(path)
            _expect(path, model_configs.family(loaded), family)
            _no_semantic(path, semantic, "a converted directory")
            return loaded, params
        inner = [paths.join(path, name) for name in FOLDER_FILES if paths.isfile(paths.join(path, name))]
        if not inner:
            raise CheckpointError(f"{path} is neither a converted checkpoint ({store.CONFIG_FILE} and "
                                  f"{store.PARAMS_DIR}/ inside), a train.py run directory nor a folder holding "
                                  f"{' or '.join(FOLDER_FILES)}")
        path = inner[0]
    found, contents, embedded = _read_once(path)
    _expect(path, found, family)
    if config is not None and model_configs.family(config) != found:
        raise CheckpointError(f"{path} holds {_HOLDS[found]} checkpoint and the config given is "
                              f"{_HOLDS[model_configs.family(config)]} one")
    config = config if config is not None else embedded
    if found != BIGCODEC:
        weights = None if semantic is None else semantic_weights(semantic)
        loaded, params = xcodec2_layout.load_state(contents, path, config, weights)
        return loaded, {"model": params}
    _no_semantic(path, semantic, "a BigCodec checkpoint")
    try:
        return official.torch_to_flax(contents, config)
    except CheckpointError as e:
        raise CheckpointError(f"{path}: {e}") from None


def _no_semantic(path: str, semantic: str | os.PathLike | None, what: str) -> None:
    if semantic is not None:
        raise CheckpointError(f"{path} is {what}: a semantic source (semantic= / --semantic) applies only to an "
                              "X-Codec2 / NeuCodec checkpoint file")


def _read_once(path: str) -> tuple[str, Any, ml_collections.ConfigDict | None]:
    """(family, contents, embedded config or None) of a checkpoint file: BigCodec's official sections, or the
    family's flat state dict in the release's names (`xcodec2_layout.normalised`)."""
    with download_cache.local_copy(path) as local:
        try:
            if safetensors_format.is_safetensors(local):
                tensors, metadata = safetensors_format.read_flat(local)
                embedded = safetensors_format.config_of(metadata, path)
                if xcodec2_hf.is_hf(tensors):
                    hf_config = xcodec2_hf.config_from_hf(_json(_beside(path, "config.json", _HF_CONFIG)), path)
                    return "xcodec2", xcodec2_hf.official_state(tensors, hf_config.decoder.heads), hf_config
                state = xcodec2_layout.normalised(tensors)
                if xcodec2_layout.is_family(state):
                    return embedded.family if embedded else xcodec2_layout.family_of(state), state, embedded
                return BIGCODEC, *safetensors_format.sections_of(tensors, metadata, path)
            obj = torch_zip.load(local)
            flat = obj.get("state_dict", obj) if isinstance(obj, dict) else None
            if isinstance(flat, dict) and xcodec2_layout.is_family(flat):
                state = xcodec2_layout.normalised({str(k): v for k, v in flat.items()})
                return xcodec2_layout.family_of(state), state, None
            return BIGCODEC, *official.of_object(obj, path)
        except CheckpointError as e:  # name the file as the user did, not its temporary download
            raise CheckpointError(str(e).replace(local, path)) from None


_HF_CONFIG = ("is in transformers' X-Codec2 layout (HKUSTAudio/xcodec2-hf), whose sizes (the attention heads) "
              "are in the config.json beside it")


def _beside(path: str, name: str, why: str) -> str:
    other = paths.join(paths.parent(path), name)
    if not paths.isfile(other):
        raise CheckpointError(f"{path} {why}, and there is no {other}")
    return other


def _json(path: str) -> dict[str, Any]:
    try:
        data = json.loads(paths.read_bytes(path))
    except (ValueError, RecursionError) as e:
        raise CheckpointError(f"{path} is not JSON ({type(e).__name__}: {str(e)[:200]})") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path} is JSON but not an object")
    return data


SEMANTIC_FILE = "model.safetensors"  # facebook/w2v-bert-2.0's weights


def semantic_weights(source: str | os.PathLike) -> xcodec2_layout.SemanticWeights:
    """The semantic model (w2v-BERT) as a second source: `facebook/w2v-bert-2.0` (a hub id), the path of its
    `model.safetensors` or its folder; its `config.json`, when beside, is read too (and checked against the
    shapes by `xcodec2_layout.load_state`)."""
    where = os.fspath(source)
    path = resolve(source, default=SEMANTIC_FILE)
    file = paths.join(path, SEMANTIC_FILE) if paths.isdir(path) else path
    if not paths.isfile(file):
        raise CheckpointError(f"{where} holds no {SEMANTIC_FILE} (the semantic model's weights, as "
                              "facebook/w2v-bert-2.0 ships them)")
    with download_cache.local_copy(file) as local:
        try:
            state = safetensors_format.read_tensors(local)
        except CheckpointError as e:
            raise CheckpointError(str(e).replace(local, file)) from None
    config_file = paths.join(paths.parent(file), "config.json")
    return xcodec2_layout.SemanticWeights(state, _json(config_file) if paths.isfile(config_file) else None, where)


def check_finite(params: dict[str, Any], path: str) -> None:
    """CheckpointError naming the first tensor of `params` (by its path in the tree) with a NaN or infinite value."""
    for keys, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        values = np.asarray(leaf)
        if not np.isfinite(values).all():
            name = "/".join(str(getattr(key, "key", key)) for key in keys)
            bad = int(values.size - np.count_nonzero(np.isfinite(values)))
            raise CheckpointError(f"{path}: tensor {name} has {bad:,} NaN or infinite values (of {values.size:,}); "
                                  "the checkpoint is damaged")
