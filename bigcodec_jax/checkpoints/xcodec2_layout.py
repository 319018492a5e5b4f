"""X-Codec2 / NeuCodec checkpoints: the one weight table, the released layouts told apart, the config inferred.

Released layouts read here (each a flat state dict once `torch_zip` or `safetensors_format` has read it):
- X-Codec2's `model.safetensors` (HKUSTAudio/xcodec2) and Lightning `.ckpt` (X-Codec-2.0; under `state_dict`,
  beside discriminators and training state, which are ignored);
- NeuCodec's `pytorch_model.bin` (neuphonic/neucodec; its `fc_post_s` / `SemanticDecoder` are ignored).
They name tensors alike, but for two spellings that `normalised` unifies: X-Codec2's SnakeBeta keeps
its `beta` as `act.bias`, and newer PyTorch writes weight norm as `parametrizations.weight.original0/1`.
The semantic model's tensors (`semantic_model.*`) may be absent, as in checkpoints saved without the
frozen w2v-BERT; a second source for them (`facebook/w2v-bert-2.0`'s own `model.safetensors`, and its
`config.json`, checked against the shapes) is then needed (`SemanticWeights`, `load_state`).
`state_of` is the inverse of `to_params`: our exports in the release's names (family spelling).
"""
from __future__ import annotations

import functools
import re
from typing import Any, Mapping, NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from bigcodec_jax.checkpoints import layout, vocos_weights, w2v_bert_weights
from bigcodec_jax.checkpoints.torch_zip import CheckpointError
from bigcodec_jax.xcodec2 import config as config_lib
from bigcodec_jax.xcodec2.model import XCodec2Model, semantic_config

SEMANTIC_PREFIX = "semantic_model."
FAMILY_BY_HEAD_HOP = {hop: family for family, hop in config_lib.OUTPUT_HOPS.items()}
MARKER = "generator.backbone.embed.weight"  # a tensor every checkpoint of the family has, and BigCodec's lacks
SEMANTIC_SOURCE_HINT = ("the official inference loads them from facebook/w2v-bert-2.0: pass that hub id, or the "
                        "path of its model.safetensors, as the semantic source (`semantic=` / --semantic)")


def is_family(state: Mapping[str, Any]) -> bool:
    """Whether a flat state dict is an X-Codec2 / NeuCodec checkpoint (`normalised` first)."""
    return MARKER in state


def normalised(state: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """One spelling of every tensor name: SnakeBeta's `act.bias` as `act.beta`, PyTorch's parametrized weight norm
    as `weight_g` / `weight_v`."""
    out = {}
    for name, value in state.items():
        name = re.sub(r"\.act\.bias$", ".act.beta", name)
        name = re.sub(r"\.parametrizations\.weight\.original0$", ".weight_g", name)
        name = re.sub(r"\.parametrizations\.weight\.original1$", ".weight_v", name)
        out[name] = value
    return out


def entries(config: ml_collections.ConfigDict) -> list[layout.Entry]:
    """Every official tensor `XCodec2Model(config)` reads, with its parameter path."""
    n = len(config.encoder.up_ratios)
    acoustic = ("acoustic",)
    return [
        *layout.encoder_blocks(config.encoder, "CodecEnc.conv_blocks.0",
                               [f"CodecEnc.conv_blocks.{i}" for i in range(1, n + 1)], acoustic),
        *layout.encoder_head("CodecEnc.conv_final_block.0", "CodecEnc.conv_final_block.1", acoustic),
        *w2v_bert_weights.entries(semantic_config(config), SEMANTIC_PREFIX, ("semantic",)),
        *vocos_weights.semantic_adapter_entries("SemanticEncoder_module", ("adapter",)),
        *vocos_weights.linear_entries("fc_prior", ("fc_prior",)),
        *vocos_weights.fsq_entries("generator.quantizer", ("quantizer",)),
        *vocos_weights.linear_entries("fc_post_a", ("fc_post_a",)),
        *vocos_weights.vocos_decoder_entries("generator", ("decoder",), config.decoder.depth),
    ]


def _shape(state: Mapping[str, np.ndarray], name: str) -> tuple[int, ...]:
    if name not in state:
        raise CheckpointError(f"cannot infer the model config: {name} is missing")
    return tuple(np.shape(state[name]))


def _count(state: Mapping[str, np.ndarray], pattern: str) -> int:
    found = {int(m.group(1)) for name in state if (m := re.fullmatch(pattern, name))}
    return max(found) + 1 if found else 0


def family_of(state: Mapping[str, np.ndarray]) -> str:
    """"xcodec2" or "neucodec", told by the ISTFT head's size (n_fft = 4 * the output hop)."""
    n_fft = _shape(state, "generator.head.out.weight")[0] - 2
    family = FAMILY_BY_HEAD_HOP.get(n_fft // 4) if n_fft % 4 == 0 else None
    if family is None:
        raise CheckpointError(f"an ISTFT head of {n_fft} bins is neither X-Codec2's (1280) nor NeuCodec's (1920)")
    return family


def infer_config(state: Mapping[str, np.ndarray], heads: int | None = None) -> ml_collections.ConfigDict:
    """The model config from the tensor shapes of a normalised state dict holding the semantic model's tensors.

    Shapes do not tell the decoder's attention heads: `heads` when given, else 64 channels a head as in both
    releases (16 heads of 1024). Nor do they split w2v-BERT's relative positions: 8 to the right, the rest to
    the left, as in w2v-BERT 2.0 (64 and 8)."""
    family = family_of(state)
    blocks = _count(state, r"CodecEnc\.conv_blocks\.(\d+)\..*") - 1
    strides = [_shape(state, f"CodecEnc.conv_blocks.{i}.block.4.weight_v")[2] // 2 for i in range(1, blocks + 1)]
    distances, head_size = _shape(state, SEMANTIC_PREFIX + "encoder.layers.0.self_attn.distance_embedding.weight")
    hidden_s = _shape(state, SEMANTIC_PREFIX + "feature_projection.projection.weight")[0]
    hidden = _shape(state, "generator.backbone.embed.weight")[0]
    heads = heads or max(1, hidden // 64)
    config = config_lib.model_config(family)
    config.encoder.update(ngf=_shape(state, "CodecEnc.conv_blocks.0.weight_v")[0], up_ratios=strides,
                          out_channels=_shape(state, "CodecEnc.conv_final_block.1.weight_v")[0])
    config.semantic.update(
        hidden_size=hidden_s, num_heads=hidden_s // head_size, right_max_positions=8, left_max_positions=distances - 9,
        intermediate_size=_shape(state, SEMANTIC_PREFIX + "encoder.layers.0.ffn1.intermediate_dense.weight")[0],
        conv_kernel=_shape(state, SEMANTIC_PREFIX + "encoder.layers.0.conv_module.depthwise_conv.weight")[2])
    config.adapter.out_channels = _shape(state, "SemanticEncoder_module.final_conv.weight")[0]
    config.quantizer.dim = _shape(state, "generator.quantizer.project_in.weight")[1]
    config.decoder.update(hidden=hidden, heads=heads, rotary_dim=hidden // heads,
                          depth=_count(state, r"generator\.backbone\.transformers\.(\d+)\..*"))
    if _shape(state, "generator.quantizer.project_in.weight")[0] != len(config.quantizer.levels):
        raise CheckpointError("generator.quantizer.project_in.weight: the FSQ must have 8 levels of 4")
    try:
        config_lib.validate(config)
    except ValueError as e:
        raise CheckpointError(f"the checkpoint's shapes give an impossible model: {e}") from None
    return config


def _param_shapes(config: ml_collections.ConfigDict) -> dict:
    return _shapes_of(config_lib.freeze(config))


@functools.lru_cache(maxsize=8)
def _shapes_of(frozen: ml_collections.FrozenConfigDict) -> dict:
    """The parameter tree of `XCodec2Model(frozen)` as shape structs (traced once per config: seconds)."""
    wav = jax.ShapeDtypeStruct((1, 320), jnp.float32)
    features = jax.ShapeDtypeStruct((1, 1, 160), jnp.float32)
    tree = jax.eval_shape(lambda w, f: XCodec2Model(frozen).init(jax.random.PRNGKey(0), w, f), wav, features)
    return tree["params"]


def with_semantic(state: Mapping[str, np.ndarray], semantic: Mapping[str, np.ndarray] | None,
                  where: str) -> dict[str, np.ndarray]:
    """`state` (normalised) completed by a second source of the semantic model's tensors (w2v-BERT's own names),
    which replace any in `state`; CheckpointError, with what to do, when neither has them."""
    state = dict(state)
    if semantic is not None:
        state = {k: v for k, v in state.items() if not k.startswith(SEMANTIC_PREFIX)}
        state.update({SEMANTIC_PREFIX + k: v for k, v in semantic.items()})
    if SEMANTIC_PREFIX + "feature_projection.projection.weight" not in state:
        raise CheckpointError(f"{where} holds no semantic model (w2v-BERT) weights; {SEMANTIC_SOURCE_HINT}")
    return state


def to_params(state: Mapping[str, np.ndarray], config: ml_collections.ConfigDict | None = None,
              where: str = "the checkpoint") -> tuple[ml_collections.ConfigDict, dict[str, Any]]:
    """(config, `XCodec2Model` params as float32 numpy) from a normalised state dict with the semantic tensors;
    the config is inferred from the shapes unless given. Tensors the model does not use are ignored."""
    config = config if config is not None else infer_config(state)
    return config, layout.tree_from_state(state, entries(config), _param_shapes(config), where)


class SemanticWeights(NamedTuple):
    """A second source of the semantic model: w2v-BERT's tensors under its own names, its `config.json` (a
    decoded dict, or None when there is none beside them) and where they came from (for messages)."""

    state: Mapping[str, np.ndarray]
    config_json: Mapping[str, Any] | None
    where: str


def load_state(state: Mapping[str, np.ndarray], where: str, config: ml_collections.ConfigDict | None = None,
               semantic: SemanticWeights | None = None) -> tuple[ml_collections.ConfigDict, dict[str, Any]]:
    """(config, params) of a normalised state dict, its semantic tensors taken from `semantic` when given; the
    config inferred from the shapes unless given. A semantic `config.json` must agree with the config (it also
    tells how w2v-BERT's relative positions split, which the shapes do not)."""
    state = with_semantic(state, None if semantic is None else semantic.state, where)
    inferred = config is None
    config = infer_config(state) if inferred else ml_collections.ConfigDict(config.to_dict())
    if semantic is not None and semantic.config_json is not None:
        _check_semantic(config, semantic, inferred)
    return to_params(state, config, where)


def _check_semantic(config: ml_collections.ConfigDict, semantic: SemanticWeights, inferred: bool) -> None:
    where = f"{semantic.where} (config.json)"
    told = w2v_bert_weights.family_semantic(semantic.config_json, config.semantic.num_layers, where)
    ours = config.semantic
    positions = ("left_max_positions", "right_max_positions")
    if inferred and sum(told[k] for k in positions) == sum(ours[k] for k in positions):
        ours.update({k: told[k] for k in positions})
    differ = [f"{k} {told[k]} (the weights: {ours[k]})" for k in told if told[k] != ours[k]]
    if differ:
        raise CheckpointError(f"{where} does not describe these weights: {', '.join(differ)}")


def state_of(params: Mapping[str, Any], config: ml_collections.ConfigDict) -> dict[str, np.ndarray]:
    """The release's flat state dict (float32, PyTorch layouts) of `XCodec2Model` params: the inverse of
    `to_params`, in the family's own spelling (X-Codec2's SnakeBeta `act.bias`); constant buffers left out."""
    beta = ".act.bias" if config.family == "xcodec2" else ".act.beta"
    out = {}
    for entry in entries(config):
        if not entry.kind.buffer:
            value = params
            for key in entry.path:
                value = value[key]
            out[re.sub(r"\.act\.beta$", beta, entry.torch_name)] = entry.kind.to_torch(np.asarray(value, np.float32))
    return out
