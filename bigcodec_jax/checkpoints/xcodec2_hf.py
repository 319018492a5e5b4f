"""transformers' X-Codec2 port (`HKUSTAudio/xcodec2-hf`) read as the official release: names, weights, config.

The port (`Xcodec2Model`, `model.safetensors` + `config.json`) renames every module, folds weight norm into
plain weights, splits the decoder's `c_attn` into `q/k/v_proj` with the q and k rows of each head reordered
(from torchtune's interleaved rotary pairs to rotate-half halves) and keeps only the 16 semantic layers used.
`official_state` undoes all of that, giving the names `xcodec2_layout` reads: a folded weight `w` becomes
weight norm's `g = |w|` (over all but the output axis) and `v = w` (rows of zeros, which the port's padding
has, get `v = 1` and `g = 0`, so that `g * v / |v|` is still 0). Shapes do not tell the attention heads, so
the config comes from `config.json` (`config_from_hf`). The port has one width for the encoder output and the
decoder, and `quantization_dim` = that + the semantic width: a model of other sizes is loaded zero-padded to
those widths as the port holds it, which computes the same codes (tests/golden/FAMILY.md).
"""
from __future__ import annotations

import re
from typing import Any, Callable, Mapping

import ml_collections
import numpy as np

from bigcodec_jax.checkpoints import w2v_bert_weights
from bigcodec_jax.checkpoints.torch_zip import CheckpointError
from bigcodec_jax.xcodec2 import config as config_lib
from bigcodec_jax.xcodec2.semantic import SEMANTIC_LAYER

MARKER = "acoustic_decoder.head.linear.weight"  # a tensor the port has and the official layouts lack
MODEL_TYPE = "xcodec2"  # config.json's model_type
_ADAPTER = {"1": "initial_conv", "2": "residual_blocks.1", "3": "residual_blocks.3", "4": "final_conv"}
_LAYER = {"input_layernorm": "att_norm", "post_attention_layernorm": "ffn_norm", "self_attn.o_proj": "att.c_proj",
          "mlp.fc1": "mlp.fc1", "mlp.fc2": "mlp.fc2"}
_ENC = "CodecEnc.conv_blocks"


def _res_unit(m: re.Match) -> str:
    block, unit, kind, index, rest = m.groups()
    inner = 2 * (int(index) - 1) + (1 if kind == "conv" else 0)  # ResidualUnit.block: snake, conv, snake, conv
    return f"{_ENC}.{int(block) + 1}.block.{int(unit) - 1}.block.{inner}.{rest}"


# (pattern over the port's name, the official name); the acoustic encoder's convolutions carry weight norm.
_RULES: list[tuple[str, str | Callable[[re.Match], str]]] = [
    (r"acoustic_encoder\.conv1\.(.+)", rf"{_ENC}.0.\1"),
    (r"acoustic_encoder\.block\.(\d+)\.res_unit(\d)\.(snake|conv)(\d)\.(.+)", _res_unit),
    (r"acoustic_encoder\.block\.(\d+)\.snake1\.(.+)", lambda m: f"{_ENC}.{int(m[1]) + 1}.block.3.{m[2]}"),
    (r"acoustic_encoder\.block\.(\d+)\.conv1\.(.+)", lambda m: f"{_ENC}.{int(m[1]) + 1}.block.4.{m[2]}"),
    (r"acoustic_encoder\.snake1\.(.+)", r"CodecEnc.conv_final_block.0.\1"),
    (r"acoustic_encoder\.conv2\.(.+)", r"CodecEnc.conv_final_block.1.\1"),
    (r"semantic_encoder\.(.+)", r"semantic_model.\1"),
    (r"semantic_adapter\.conv(\d)\.(.+)", lambda m: f"SemanticEncoder_module.{_ADAPTER[m[1]]}.{m[2]}"),
    (r"fc_encoder\.(.+)", r"fc_prior.\1"),
    (r"quantizer\.(.+)", r"generator.quantizer.\1"),
    (r"acoustic_decoder\.fc\.(.+)", r"fc_post_a.\1"),
    (r"acoustic_decoder\.head\.linear\.(.+)", r"generator.head.out.\1"),
    (r"acoustic_decoder\.norm\.(.+)", r"generator.backbone.final_layer_norm.\1"),
    (r"acoustic_decoder\.layers\.(\d+)\.(input_layernorm|post_attention_layernorm|self_attn\.o_proj|mlp\.fc\d)\.(.+)",
     lambda m: f"generator.backbone.transformers.{m[1]}.{_LAYER[m[2]]}.{m[3]}"),
    (r"acoustic_decoder\.((?:embed|prior_net|post_net)\..+)", r"generator.backbone.\1"),
]
_QKV = re.compile(r"acoustic_decoder\.layers\.(\d+)\.self_attn\.([qkv])_proj\.weight")


def is_hf(state: Mapping[str, Any]) -> bool:
    """Whether a flat state dict is in the port's names."""
    return MARKER in state


def _unfold(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(g, v) of a folded weight-norm weight (norm over all but axis 0, torch's layout `(out, 1, ..., 1)`)."""
    g = np.sqrt(np.sum(np.square(w, dtype=np.float64), axis=tuple(range(1, w.ndim)), keepdims=True))
    v = np.where(g > 0, w, np.ones_like(w))
    return g.astype(w.dtype), v


def _unrotate(w: np.ndarray, heads: int) -> np.ndarray:
    """q / k rows of each head from rotate-half order (i, i + d/2) back to torchtune's pairs (2i, 2i + 1)."""
    d = w.shape[0] // heads
    return w.reshape(heads, 2, d // 2, -1).transpose(0, 2, 1, 3).reshape(w.shape)


def official_state(state: Mapping[str, np.ndarray], heads: int) -> dict[str, np.ndarray]:
    """The port's tensors under the official names (normalised spelling, weight norm as `weight_g`/`weight_v`,
    `c_attn` rebuilt); tensors the official model does not have (`masked_spec_embed`) are dropped."""
    out: dict[str, np.ndarray] = {}
    qkv: dict[str, dict[str, np.ndarray]] = {}
    for name, value in state.items():
        if m := _QKV.fullmatch(name):
            qkv.setdefault(m[1], {})[m[2]] = value
            continue
        for pattern, official in _RULES:
            if m := re.fullmatch(pattern, name):
                new = official(m) if callable(official) else m.expand(official)
                if new.startswith("CodecEnc.") and new.endswith(".weight"):
                    out[new[:-len("weight")] + "weight_g"], out[new[:-len("weight")] + "weight_v"] = _unfold(value)
                else:
                    out[new] = value
                break
    for layer, parts in qkv.items():
        missing = sorted({"q", "k", "v"} - set(parts))
        if missing:
            raise CheckpointError(f"acoustic_decoder.layers.{layer}.self_attn has no {missing[0]}_proj.weight")
        if parts["q"].shape[0] % (2 * heads):
            raise CheckpointError(f"acoustic_decoder.layers.{layer}.self_attn.q_proj.weight has shape "
                                  f"{parts['q'].shape}: {heads} heads of an even size do not divide its rows")
        out[f"generator.backbone.transformers.{layer}.att.c_attn.weight"] = np.concatenate(
            [_unrotate(parts["q"], heads), _unrotate(parts["k"], heads), parts["v"]])
    return out


def config_from_hf(config_json: Mapping[str, Any], where: str) -> ml_collections.ConfigDict:
    """The X-Codec2 config of the port's `config.json` (absent fields: `Xcodec2Config`'s defaults);
    CheckpointError naming `where` for a variant this model does not implement."""
    get = config_json.get
    if get("model_type") != MODEL_TYPE:
        raise CheckpointError(f"{where}: model_type is {get('model_type')!r}, not {MODEL_TYPE!r}")
    hidden, heads = get("hidden_size", 1024), get("num_attention_heads", 16)
    unsupported = {k: get(k, d) for k, d, ok in (
        ("num_key_value_heads", heads, heads), ("head_dim", hidden // heads, hidden // heads),
        ("intermediate_size", 4 * hidden, 4 * hidden), ("hidden_act", "silu", "silu"),
        ("attention_bias", False, False), ("rms_norm_eps", 1e-6, 1e-6)) if get(k, d) != ok}
    if unsupported:
        raise CheckpointError(f"{where}: a transformers X-Codec2 config this model does not implement: {unsupported}")
    sem = w2v_bert_weights.family_semantic(get("semantic_model_config") or {}, SEMANTIC_LAYER,
                                           f"{where} (semantic_model_config)")
    config = config_lib.model_config("xcodec2")
    config.encoder.update(ngf=get("encoder_hidden_size", 48), out_channels=hidden,
                          up_ratios=list(get("downsampling_ratios", [2, 2, 4, 4, 5])))
    config.semantic.update(sem)
    config.adapter.out_channels = sem["hidden_size"]
    config.quantizer.update(dim=get("quantization_dim", 2048), levels=list(get("quantization_levels", [4] * 8)))
    config.decoder.update(hidden=hidden, depth=get("num_hidden_layers", 12), heads=heads, rotary_dim=hidden // heads)
    try:
        config_lib.validate(config)
    except ValueError as e:
        raise CheckpointError(f"{where}: its config gives an impossible model: {e}") from None
    return config
