"""Receptive fields of the encoder's and decoder's `features` and `head` stages, in code frames.

Derived from the modules themselves: each stage is the layer sequence its forward pass runs
(`codec/stages.py`), and every layer states which inputs its outputs read (`span`), so the
contexts below follow any change of the architecture. The chunked path and streaming need them.
"""
from __future__ import annotations

import functools
import math
from typing import Callable, NamedTuple

import ml_collections

from bigcodec_jax.codec.chunking import Context
from bigcodec_jax.codec.config import hop_length
from bigcodec_jax.codec.model import BigCodecModel


class Contexts(NamedTuple):
    """(features, head) contexts of one network, in frames."""

    features: Context
    head: Context


def frame_context(span: Callable[[int, int], tuple[int, int]], steps_in: int, steps_out: int) -> Context:
    """Context in frames of a stage whose input and output have `steps_in` / `steps_out` steps per frame."""
    lo, hi = span(0, steps_out - 1)  # the outputs of frame 0
    return Context(math.ceil(-lo / steps_in), math.ceil((hi - (steps_in - 1)) / steps_in))


@functools.lru_cache(maxsize=None)
def contexts(config: ml_collections.FrozenConfigDict) -> tuple[Contexts, Contexts]:
    """(encoder, decoder) contexts of a frozen model config."""
    model = BigCodecModel(config).bind({})  # unbound parameters: the geometry needs none
    hop = hop_length(config)
    enc, dec = model.encoder, model.decoder
    return (Contexts(frame_context(enc.features_span, hop, 1), frame_context(enc.head_span, 1, 1)),
            Contexts(frame_context(dec.features_span, 1, 1), frame_context(dec.head_span, 1, hop)))
