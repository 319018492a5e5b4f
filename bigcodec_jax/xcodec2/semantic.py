"""The w2v-BERT 2.0 semantic encoder of X-Codec2 and NeuCodec: feature projection and the first Conformer layers.

Both codecs read transformers' `Wav2Vec2BertModel` hidden state 16 (the output of layer 16 of 24), so only the
layers up to it are built and run. The layers are a plain Python loop (16 static modules `layer_<i>`, one
per PyTorch `encoder.layers.<i>`), which keeps one parameter subtree per official layer for the weight table.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp

from bigcodec_jax.nn.conformer import ConformerLayer

SEMANTIC_LAYER = 16  # X-Codec2 and NeuCodec take hidden_states[16]


@dataclasses.dataclass(frozen=True)
class W2vBertConfig:
    """Sizes of the computed part of `facebook/w2v-bert-2.0` (defaults: the release; `num_layers` = layers run)."""

    hidden_size: int = 1024
    num_layers: int = SEMANTIC_LAYER
    num_heads: int = 16
    intermediate_size: int = 4096
    feature_dim: int = 160
    conv_kernel: int = 31
    left_max_positions: int = 64
    right_max_positions: int = 8
    layer_norm_eps: float = 1e-5  # every LayerNorm of the model (one config field in transformers)

    @classmethod
    def from_hf(cls, config_json: Mapping[str, Any], num_layers: int = SEMANTIC_LAYER) -> "W2vBertConfig":
        """The config of a transformers `Wav2Vec2BertConfig` `config.json` (absent fields: the class defaults),
        computing `num_layers` of its layers. ValueError for a variant this model does not implement."""
        get = config_json.get
        unsupported = {k: get(k, d) for k, d, ok in (
            ("position_embeddings_type", "relative_key", ("relative_key",)),
            ("hidden_act", "swish", ("swish", "silu")),
            ("add_adapter", False, (False,)),
            ("use_intermediate_ffn_before_adapter", False, (False,))) if get(k, d) not in ok}
        if unsupported:
            raise ValueError(f"a w2v-BERT config this model does not implement: {unsupported}")
        available = get("num_hidden_layers", 24)
        if not 1 <= num_layers <= available:
            raise ValueError(f"cannot compute {num_layers} layers of a w2v-BERT model with {available}")
        return cls(hidden_size=get("hidden_size", 1024), num_layers=num_layers,
                   num_heads=get("num_attention_heads", 16), intermediate_size=get("intermediate_size", 4096),
                   feature_dim=get("feature_projection_input_dim", 160),
                   conv_kernel=get("conv_depthwise_kernel_size", 31),
                   left_max_positions=get("left_max_position_embeddings", 64),
                   right_max_positions=get("right_max_position_embeddings", 8),
                   layer_norm_eps=float(get("layer_norm_eps", 1e-5)))


class W2vBert(nn.Module):
    """`(B, F, feature_dim)` features (and valid frame counts `(B,)`, or None) -> `(B, F, hidden_size)`:
    transformers' `hidden_states[config.num_layers]`. With `lengths`, each example of a right-padded batch
    gives at its valid frames what it gives alone (frames after them are not meaningful)."""

    config: W2vBertConfig = W2vBertConfig()
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, features: jax.Array, lengths: jax.Array | None = None) -> jax.Array:
        cfg = self.config
        if features.ndim != 3 or features.shape[-1] != cfg.feature_dim:
            raise ValueError(f"W2vBert takes features of shape (batch, frames, {cfg.feature_dim}), "
                             f"not {features.shape}")
        x = nn.LayerNorm(epsilon=cfg.layer_norm_eps, dtype=self.dtype,
                         name="feature_layer_norm")(features.astype(self.dtype))
        x = nn.Dense(cfg.hidden_size, dtype=self.dtype, name="feature_projection")(x)
        for i in range(cfg.num_layers):
            x = ConformerLayer(cfg.num_heads, cfg.intermediate_size, cfg.conv_kernel, cfg.left_max_positions,
                               cfg.right_max_positions, cfg.layer_norm_eps, self.dtype, name=f"layer_{i}")(x, lengths)
        return x
