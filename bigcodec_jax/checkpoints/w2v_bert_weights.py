"""The w2v-BERT weight table: transformers' `Wav2Vec2BertModel` tensor names -> `W2vBert` parameter paths.

One `layout.Entry` per tensor the computed layers use (layers from `num_layers` on, the masked-spectrogram
embedding and any adapter are not read). `prefix` is what the caller's checkpoint puts before the model's own
names (`semantic_model.` in the X-Codec2 and NeuCodec releases, nothing in `facebook/w2v-bert-2.0`).
"""
from __future__ import annotations

from typing import Any, Iterator, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from bigcodec_jax.checkpoints import layout
from bigcodec_jax.checkpoints.layout import CONV1D, MATRIX, PLAIN
from bigcodec_jax.checkpoints.torch_zip import CheckpointError
from bigcodec_jax.xcodec2.semantic import W2vBert, W2vBertConfig


# the fields of W2vBertConfig that a family config's `semantic` holds (the others are fixed by the model)
FAMILY_FIELDS = ("hidden_size", "num_layers", "num_heads", "intermediate_size", "conv_kernel", "left_max_positions",
                 "right_max_positions")


def family_semantic(config_json: Mapping[str, Any], num_layers: int, where: str) -> dict[str, Any]:
    """A family config's `semantic` fields from transformers' `Wav2Vec2BertConfig` `config.json`, computing
    `num_layers`; CheckpointError naming `where` for a variant the family's model does not build."""
    try:
        config = W2vBertConfig.from_hf(config_json, num_layers)
    except ValueError as e:
        raise CheckpointError(f"{where}: {e}") from None
    fixed = W2vBertConfig()
    odd = {k: getattr(config, k) for k in ("feature_dim", "layer_norm_eps") if getattr(config, k) != getattr(fixed, k)}
    if odd:
        raise CheckpointError(f"{where}: a w2v-BERT config this model does not implement: {odd}")
    return {k: getattr(config, k) for k in FAMILY_FIELDS}


def _layer_norm(name: str, path: tuple[str, ...]) -> Iterator[layout.Entry]:
    yield layout.Entry(f"{name}.weight", path + ("scale",), PLAIN)
    yield layout.Entry(f"{name}.bias", path + ("bias",), PLAIN)


def _dense(name: str, path: tuple[str, ...]) -> Iterator[layout.Entry]:
    yield layout.Entry(f"{name}.weight", path + ("kernel",), MATRIX)
    yield layout.Entry(f"{name}.bias", path + ("bias",), PLAIN)


def _layer(name: str, path: tuple[str, ...]) -> Iterator[layout.Entry]:
    for ffn in ("ffn1", "ffn2"):
        yield from _layer_norm(f"{name}.{ffn}_layer_norm", path + (f"{ffn}_layer_norm",))
        for dense in ("intermediate_dense", "output_dense"):
            yield from _dense(f"{name}.{ffn}.{dense}", path + (ffn, dense))
    yield from _layer_norm(f"{name}.self_attn_layer_norm", path + ("self_attn_layer_norm",))
    for dense in ("linear_q", "linear_k", "linear_v", "linear_out"):
        yield from _dense(f"{name}.self_attn.{dense}", path + ("self_attn", dense))
    yield layout.Entry(f"{name}.self_attn.distance_embedding.weight", path + ("self_attn", "distance_embedding"),
                       PLAIN)
    conv, conv_path = f"{name}.conv_module", path + ("conv_module",)
    for norm in ("layer_norm", "depthwise_layer_norm"):
        yield from _layer_norm(f"{conv}.{norm}", conv_path + (norm,))
    for kernel in ("pointwise_conv1", "depthwise_conv", "pointwise_conv2"):
        yield layout.Entry(f"{conv}.{kernel}.weight", conv_path + (kernel, "kernel"), CONV1D)
    yield from _layer_norm(f"{name}.final_layer_norm", path + ("final_layer_norm",))


def entries(config: W2vBertConfig, prefix: str, path: tuple[str, ...]) -> Iterator[layout.Entry]:
    """The official tensors `W2vBert(config)` reads, named `prefix + <Wav2Vec2BertModel key>`, with their paths
    under `path` (where the W2vBert params live in the caller's tree)."""
    yield from _layer_norm(f"{prefix}feature_projection.layer_norm", path + ("feature_layer_norm",))
    yield from _dense(f"{prefix}feature_projection.projection", path + ("feature_projection",))
    for i in range(config.num_layers):
        yield from _layer(f"{prefix}encoder.layers.{i}", path + (f"layer_{i}",))


def _flax_shapes(config: W2vBertConfig) -> dict:
    """The parameter tree of `W2vBert(config)` as shape structs (traced, not computed)."""
    features = jax.ShapeDtypeStruct((1, 2, config.feature_dim), jnp.float32)
    return nn.unbox(jax.eval_shape(lambda f: W2vBert(config).init(jax.random.PRNGKey(0), f), features)["params"])


def params_from_state(state: Mapping[str, np.ndarray], config: W2vBertConfig, prefix: str = "") -> dict:
    """The `W2vBert(config)` params tree (float32) from a flat state dict holding `prefix + <key>` tensors.
    CheckpointError naming the tensor when one is missing or has the wrong shape; others are ignored."""
    return layout.tree_from_state(state, entries(config, prefix, ()), _flax_shapes(config), "the w2v-BERT weights")
