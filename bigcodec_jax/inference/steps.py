"""The jitted device functions of batch inference, built once per (model config, dtype, window).

Each direction runs whole right-padded batches with per-example valid lengths (exact for every
example), or one chunk of `chunking.run_chunked` at a time. The functions take the parameters as
an argument, so every codec with the same config shares them and their compiled shapes
(`jax.jit(...)._cache_size()` counts those).
"""
from __future__ import annotations

import functools
import json
from typing import NamedTuple

import jax
import jax.numpy as jnp
import ml_collections

from bigcodec_jax import config as config_lib
from bigcodec_jax.api import DTYPES
from bigcodec_jax.codec import BigCodecModel
from bigcodec_jax.inference.chunking import ChunkPlan
from bigcodec_jax.inference.receptive_field import decoder_context, encoder_context


class Pass(NamedTuple):
    """The jitted functions of one direction (encode: audio -> codes, or decode: codes -> audio)."""

    whole: jax.stages.Wrapped  # (params, inputs, valid lengths at the input rate) -> outputs
    chunk: jax.stages.Wrapped  # one chunk, see chunking.run_chunked
    plan: ChunkPlan


class Steps(NamedTuple):
    encode: Pass  # wav (B, T), samples (B,) -> codes (B, n_q, T / hop)
    decode: Pass  # codes (B, n_q, F), frames (B,) -> wav (B, F * hop)


def _encode(m: BigCodecModel, wav: jax.Array, samples: jax.Array) -> jax.Array:
    return m.quantizer(m.encoder(wav[..., None], samples))[1]


def _decode(m: BigCodecModel, codes: jax.Array, frames: jax.Array) -> jax.Array:
    return m.decoder(m.quantizer.embed(codes), frames)[..., 0].astype(jnp.float32)


def _chunk(m: BigCodecModel, inputs: jax.Array, input_lengths: jax.Array, window_lengths: jax.Array,
           state=None, history=None, *, encoder: bool, plan: ChunkPlan):
    """One chunk: features of the input slice, `plan.new` LSTM steps, head on history + new outputs."""
    net = m.encoder if encoder else m.decoder
    x = inputs[..., None] if encoder else m.quantizer.embed(inputs)
    start = 0 if history is None else plan.features.left
    y, state = net.recur(net.features(x, input_lengths)[:, start:start + plan.new], state)
    window = y if history is None else jnp.concatenate([history, y], axis=1)
    out = net.head(window, window_lengths)
    out = m.quantizer(out)[1] if encoder else out[..., 0].astype(jnp.float32)
    return out, state, window[:, window.shape[1] - plan.history:]


@functools.lru_cache(maxsize=None)
def _build(config_json: str, dtype: str, window: int) -> Steps:
    config = config_lib.from_dict(json.loads(config_json))
    model = BigCodecModel(config, DTYPES[dtype])
    encode_plan = ChunkPlan(window, *encoder_context(config)).check()
    decode_plan = ChunkPlan(window, *decoder_context(config)).check()

    def jitted(method, **static):
        method = functools.partial(method, **static) if static else method
        return jax.jit(lambda params, *args: model.apply({"params": params}, *args, method=method))

    return Steps(Pass(jitted(_encode), jitted(_chunk, encoder=True, plan=encode_plan), encode_plan),
                 Pass(jitted(_decode), jitted(_chunk, encoder=False, plan=decode_plan), decode_plan))


def steps_for(config: ml_collections.ConfigDict, dtype: str, window: int) -> Steps:
    """The shared jitted functions of a model config and compute dtype, with a chunk window in frames."""
    return _build(config_lib.to_json(config), dtype, window)

