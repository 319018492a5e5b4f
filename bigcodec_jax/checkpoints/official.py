"""Official PyTorch checkpoints <-> Flax parameter trees, both directions, with the config inferred.

Accepts the released format (`{"CodecEnc": sd, "generator": sd, ["discriminator": sd,
"spec_discriminator": sd]}`) and the official Lightning trainer's checkpoints (`state_dict` with
`model.` prefixes). Every mismatch is reported by tensor name.
"""
from __future__ import annotations

import collections
import os
import re
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from bigcodec_jax.codec import config as config_lib
from bigcodec_jax.errors import ConfigError
from bigcodec_jax import model_configs
from bigcodec_jax.checkpoints import torch_zip
from bigcodec_jax.checkpoints.layout import DISCRIMINATOR_SECTIONS, GENERATOR_SECTIONS, Entry, entries
from bigcodec_jax.checkpoints.torch_zip import CheckpointError
from bigcodec_jax.nn.activations import RESAMPLING_FILTER

Sections = dict[str, dict[str, np.ndarray]]
_ALL_SECTIONS = GENERATOR_SECTIONS + DISCRIMINATOR_SECTIONS
CONFIG_KEY = "bigcodec_jax_model_config"  # exports written by this package carry their model config (JSON)
# Discriminator settings that tensor shapes do not reveal, keyed by the number of sub-discriminators:
# the official default (5) and debug (3) configurations.
_PERIODS = (2, 3, 5, 7, 11)
_STFT_BY_COUNT = {5: config_lib.model_config("full").mstft.stft_params,
                  3: config_lib.model_config("official_debug").mstft.stft_params}


def read_sections(path: str | os.PathLike) -> Sections:
    """The state dicts of a released-format or Lightning checkpoint, keyed by official section name."""
    return _sections(torch_zip.load(path), path)


def read(path: str | os.PathLike) -> tuple[Sections, ml_collections.ConfigDict | None]:
    """(state dicts, the model config our export embedded or None) of a released-format or Lightning file."""
    return of_object(torch_zip.load(path), path)


def of_object(ckpt: Any, path: str | os.PathLike) -> tuple[Sections, ml_collections.ConfigDict | None]:
    """`read` of a file already unpickled by `torch_zip.load`."""
    sections = _sections(ckpt, path)
    embedded = ckpt.get(CONFIG_KEY)
    return sections, None if embedded is None else embedded_config(embedded, f"{path} (key {CONFIG_KEY})")


def embedded_config(value: Any, where: str) -> ml_collections.ConfigDict:
    """The model config a checkpoint carries (JSON text or its dict), validated by `model_configs.parse`;
    a bad one is a CheckpointError that names `where` and the field."""
    try:
        return model_configs.parse(value)
    except ConfigError as e:
        raise CheckpointError(f"{where}: invalid model config: {e}") from None


def to_checkpoint(params: dict[str, Any], config: ml_collections.ConfigDict) -> dict[str, Any]:
    """The released layout (`flax_to_torch`) plus the model config as JSON under `CONFIG_KEY`: dilations,
    periods and STFT sizes do not show in tensor shapes, and the official loader ignores the extra key."""
    return {**flax_to_torch(params, config), CONFIG_KEY: config_lib.to_json(config)}


def _sections(ckpt: Any, path: str | os.PathLike) -> Sections:
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"{path} holds a {type(ckpt).__name__}, not a BigCodec checkpoint dict")
    if "state_dict" in ckpt and isinstance(ckpt["state_dict"], dict):  # PyTorch Lightning
        sections: Sections = {}
        for key, value in ckpt["state_dict"].items():
            parts = key.split(".", 2)
            if len(parts) == 3 and parts[0] == "model" and parts[1] in _ALL_SECTIONS:
                sections.setdefault(parts[1], collections.OrderedDict())[parts[2]] = value
    else:
        sections = {k: v for k, v in ckpt.items() if k in _ALL_SECTIONS and isinstance(v, dict)}
    missing = [s for s in GENERATOR_SECTIONS if s not in sections]
    if missing:
        raise CheckpointError(f"{path} is not a BigCodec checkpoint: it has no {' or '.join(missing)} state dict "
                              f"(top-level keys: {', '.join(map(str, ckpt))})")
    for name, sd in sections.items():
        for key, value in sd.items():
            if not isinstance(value, np.ndarray):
                raise CheckpointError(f"{path}: {name}.{key} is a {type(value).__name__}, not a tensor")
    return sections


# ------------------------------------------------------------------------------- config inference

def _need(sd: dict[str, np.ndarray], key: str, section: str) -> np.ndarray:
    if key not in sd:
        raise CheckpointError(f"cannot infer the model config: {section}.{key} is missing")
    return sd[key]


def _indices(sd: dict[str, np.ndarray], pattern: str) -> list[int]:
    """Sorted distinct integers captured by `pattern` (with one group) over the keys."""
    found = {int(m.group(1)) for k in sd if (m := re.match(pattern, k))}
    return sorted(found)


def _rnn(sd: dict[str, np.ndarray], prefix: str) -> int:
    return len(_indices(sd, rf"{re.escape(prefix)}\.lstm\.weight_ih_l(\d+)$"))


def infer_config(sections: Sections) -> ml_collections.ConfigDict:
    """The model config implied by the tensor shapes (dilations, periods and STFT sizes follow the
    official pattern, since shapes do not show them)."""
    config = config_lib.model_config("full")
    enc, gen = sections["CodecEnc"], sections["generator"]

    blocks = [i for i in _indices(enc, r"block\.(\d+)\.block\.") if f"block.{i}.lstm.weight_ih_l0" not in enc]
    n_res = len(_indices(enc, rf"block\.{blocks[0]}\.block\.(\d+)\.block\.")) if blocks else 0
    e = config.encoder
    e.ngf = int(_need(enc, "block.0.weight_v", "CodecEnc").shape[0])
    e.up_ratios = [int(_need(enc, f"block.{i}.block.{n_res + 1}.weight_v", "CodecEnc").shape[2]) // 2 for i in blocks]
    e.dilations = [3 ** j for j in range(n_res)]
    rnn_index = len(blocks) + 1
    e.rnn_num_layers = _rnn(enc, f"block.{rnn_index}")
    e.use_rnn = e.rnn_num_layers > 0
    e.out_channels = int(_need(enc, f"block.{rnn_index + int(e.use_rnn) + 1}.weight_v", "CodecEnc").shape[0])

    d = config.decoder
    conv_in = _need(gen, "model.0.weight_v", "generator")
    d.upsample_initial_channel, d.in_channels = int(conv_in.shape[0]), int(conv_in.shape[1])
    d.ngf = e.ngf  # unused by the official decoder; kept equal to the encoder's
    d.rnn_num_layers = _rnn(gen, "model.1")
    d.use_rnn = d.rnn_num_layers > 0
    dec_blocks = _indices(gen, r"model\.(\d+)\.block\.1\.weight_v")
    d.up_ratios = [int(gen[f"model.{i}.block.1.weight_v"].shape[2]) // 2 for i in dec_blocks]
    d.dilations = [3 ** j for j in range(len(_indices(gen, rf"model\.{dec_blocks[0]}\.block\.(\d+)\.block\.")))] \
        if dec_blocks else []
    quantizers = _indices(gen, r"quantizer\.layers\.(\d+)\._codebook\.weight$")
    if not quantizers:
        raise CheckpointError("cannot infer the model config: generator.quantizer.layers.0._codebook.weight is missing")
    d.vq_num_quantizers = len(quantizers)
    d.codebook_size, d.codebook_dim = (int(n) for n in gen["quantizer.layers.0._codebook.weight"].shape)
    in_proj = gen.get("quantizer.layers.0.in_proj.weight_v")
    d.vq_dim = int(in_proj.shape[1]) if in_proj is not None else d.codebook_dim

    if "discriminator" in sections:
        _infer_mpd(config.mpd, sections["discriminator"])
    if "spec_discriminator" in sections:
        _infer_mstft(config.mstft, sections["spec_discriminator"])
    return config


def _out_channels(sd: dict[str, np.ndarray], keys: list[str]) -> list[int]:
    return [int(sd[k].shape[0]) for k in keys if k in sd]


def _infer_mpd(m: ml_collections.ConfigDict, sd: dict[str, np.ndarray]) -> None:
    count = len(_indices(sd, r"discriminators\.(\d+)\.output_conv\.weight_v$"))
    if not 1 <= count <= len(_PERIODS):
        raise CheckpointError(f"cannot infer the periods of a multi-period discriminator with {count} periods")
    m.periods = list(_PERIODS[:count])
    outs = _out_channels(sd, [f"discriminators.0.convs.{i}.0.weight_v" for i in range(5)])
    m.channels, m.max_downsample_channels = outs[0], max(outs)
    m.channel_increasing_factor = outs[1] // outs[0] if len(outs) > 1 else 4


def _infer_mstft(m: ml_collections.ConfigDict, sd: dict[str, np.ndarray]) -> None:
    count = len(_indices(sd, r"model\.disc_(\d+)\."))
    if count not in _STFT_BY_COUNT:
        raise CheckpointError(f"cannot infer the STFT sizes of a spectrogram discriminator with {count} resolutions")
    m.stft_params = _STFT_BY_COUNT[count].to_dict()
    layers = _indices(sd, r"model\.disc_0\.model\.layer_(\d+)\.0\.weight_v$")
    m.downsample_scales = [int(sd[f"model.disc_0.model.layer_{i}.0.weight_v"].shape[2]) // 2 for i in layers[1:-1]]
    outs = _out_channels(sd, [f"model.disc_0.model.layer_{i}.0.weight_v" for i in layers])
    m.channels, m.max_downsample_channels = outs[0], max(outs)


# ------------------------------------------------------------------------------------- conversion

def expected_shapes(config: ml_collections.ConfigDict) -> dict[tuple[str, ...], tuple[int, ...]]:
    """Flax parameter shapes of the generator and discriminators built from `config`, keyed by path
    (shape inference only, no computation)."""
    from bigcodec_jax.codec import BigCodecModel
    from bigcodec_jax.codec.discriminators import Discriminators

    wav = jnp.zeros((1, config_lib.hop_length(config)))
    shapes = {}
    for name, module in (("generator", BigCodecModel(config)), ("discriminators", Discriminators(config))):
        tree = jax.eval_shape(module.init, jax.random.PRNGKey(0), wav)["params"]
        shapes.update({(name,) + tuple(k.key for k in path): tuple(leaf.shape)
                       for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]})
    return shapes


def _listed(names: list[str], limit: int = 12) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _check(sections: Sections, table: list[Entry], config: ml_collections.ConfigDict) -> None:
    given = {f"{s}.{k}": v for s, sd in sections.items() for k, v in sd.items()}
    wanted = {e.torch_name: e for e in table}
    problems = []
    missing = [n for n in wanted if n not in given]
    unexpected = [n for n in given if n not in wanted]
    if missing:
        problems.append(f"missing keys: {_listed(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {_listed(unexpected)}")
    shapes = expected_shapes(config)
    bad = []
    for name, entry in wanted.items():
        if name not in given:
            continue
        if entry.kind.buffer:
            if given[name].size != RESAMPLING_FILTER.size:
                bad.append(f"{name} (checkpoint {tuple(given[name].shape)}, model (1, 1, {RESAMPLING_FILTER.size}))")
            elif not np.allclose(given[name].ravel(), RESAMPLING_FILTER, rtol=0, atol=1e-6):
                problems.append(f"{name} is not the official resampling filter")
        elif entry.path in shapes:
            want = entry.kind.torch_shape(shapes[entry.path])
            if tuple(given[name].shape) != want:
                bad.append(f"{name} (checkpoint {tuple(given[name].shape)}, model {want})")
    if bad:
        problems.append(f"shape mismatches: {_listed(bad)}")
    if problems:
        raise CheckpointError("the checkpoint does not match the BigCodec model: " + "; ".join(problems))


def _set(tree: dict, path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        tree = tree.setdefault(key, {})
    tree[path[-1]] = value


def _get(tree: dict, path: tuple[str, ...]) -> Any:
    for key in path:
        tree = tree[key]
    return tree


def torch_to_flax(sections: Sections, config: ml_collections.ConfigDict | None = None
                  ) -> tuple[ml_collections.ConfigDict, dict[str, Any]]:
    """(config, params) with `params = {"generator": ..., ["discriminators": ...]}` of numpy arrays."""
    config = config or infer_config(sections)
    config_lib.validate(config)
    table = entries(config, tuple(s for s in _ALL_SECTIONS if s in sections))
    _check(sections, table, config)
    params: dict[str, Any] = {}
    for entry in table:
        if not entry.kind.buffer:
            section, key = entry.torch_name.split(".", 1)
            _set(params, entry.path, entry.kind.to_flax(sections[section][key]))
    return config, params


def flax_to_torch(params: dict[str, Any], config: ml_collections.ConfigDict) -> dict[str, dict[str, np.ndarray]]:
    """The released checkpoint layout (`CodecEnc`, `generator`, and discriminators when present)."""
    sections = GENERATOR_SECTIONS + (DISCRIMINATOR_SECTIONS if "discriminators" in params else ())
    out: dict[str, dict[str, np.ndarray]] = {s: collections.OrderedDict() for s in sections}
    for entry in entries(config, sections):
        section, key = entry.torch_name.split(".", 1)
        if entry.kind.buffer:
            out[section][key] = RESAMPLING_FILTER.reshape(1, 1, -1).copy()
        else:
            out[section][key] = entry.kind.to_torch(np.asarray(_get(params, entry.path), dtype=np.float32))
    return out
