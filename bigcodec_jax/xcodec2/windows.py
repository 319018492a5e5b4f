"""Long audio for X-Codec2 / NeuCodec: which frames each window-sized chunk reads and which of its outputs it keeps.

The family's semantic encoder (w2v-BERT self-attention) and decoder (a transformer without positions, masked
GroupNorm) see the whole clip, so unlike BigCodec's a chunked run is not exact. A clip of at most `window`
code frames therefore runs whole; a longer one runs in chunks of exactly `window` frames (one compiled shape,
memory bounded by the window) that keep their middle frames and read `context` frames more on each side
(shifted inwards at the clip's ends, which need none). The kept ranges tile the clip, so the chunked run gives
as many codes and samples as the whole one. Decoded chunks join at the kept boundaries, by a hard cut or a
crossfade (`stitch`). Plain numpy: the API (`family_api.py`) feeds the chunks to the model.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import numpy as np


@dataclasses.dataclass(frozen=True)
class Chunk:
    """Frames `[start, stop)` are read; frames `[keep_start, keep_stop)` (absolute, inside them) are kept."""

    start: int
    stop: int
    keep_start: int
    keep_stop: int


def plan(frames: int, window: int, context: int) -> list[Chunk]:
    """Chunks covering `frames` code frames: one chunk of the whole clip when `frames <= window`, else chunks
    of `window` frames each whose kept ranges (at most `window - 2 * context` frames, evenly sized) tile
    `[0, frames)` with at least `context` frames read on each side of them inside the clip."""
    if frames <= 0 or window <= 0 or context < 0:
        raise ValueError(f"need frames > 0, window > 0 and context >= 0, got {frames}, {window}, {context}")
    if frames <= window:
        return [Chunk(0, frames, 0, frames)]
    step = window - 2 * context
    if step <= 0:
        raise ValueError(f"a window of {window} frames leaves nothing to keep with {context} frames of context")
    count = math.ceil(frames / step)
    bounds = [i * frames // count for i in range(count + 1)]
    chunks = []
    for keep_start, keep_stop in zip(bounds[:-1], bounds[1:]):
        start = min(max(0, keep_start - context), frames - window)
        chunks.append(Chunk(start, start + window, keep_start, keep_stop))
    return chunks


def kept(outputs: Sequence[np.ndarray], chunks: Sequence[Chunk], per_frame: int = 1) -> np.ndarray:
    """Each chunk's output `(..., (stop - start) * per_frame)` cut to its kept frames and joined along the last
    axis: a hard cut at every boundary (codes with `per_frame` 1, audio with its hop)."""
    return np.concatenate([out[..., (c.keep_start - c.start) * per_frame:(c.keep_stop - c.start) * per_frame]
                           for out, c in zip(outputs, chunks)], axis=-1)


def stitch(outputs: Sequence[np.ndarray], chunks: Sequence[Chunk], hop: int, fade: int) -> np.ndarray:
    """Decoded chunks `(..., (stop - start) * hop)` joined into the clip's audio `(..., frames * hop)`: each
    boundary crossfades over `fade` samples centred on it (raised cosine; 0 is a hard cut). Both chunks must
    have read the crossfade, so `fade / 2` must not exceed the context in samples."""
    audio = kept(outputs, chunks, hop)
    if fade <= 0:
        return audio
    half = fade // 2
    ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(2 * half) + 0.5) / (2 * half))  # 0 -> 1, symmetric
    for left, right, out_l, out_r in zip(chunks[:-1], chunks[1:], outputs[:-1], outputs[1:]):
        at = left.keep_stop * hop  # the boundary, in samples of the clip
        if at - half < left.start * hop or at + half > left.stop * hop or at - half < right.start * hop:
            raise ValueError(f"a crossfade of {fade} samples reaches outside the chunks at sample {at}")
        a = out_l[..., at - half - left.start * hop:at + half - left.start * hop]
        b = out_r[..., at - half - right.start * hop:at + half - right.start * hop]
        audio[..., at - half:at + half] = ((1 - ramp) * a + ramp * b).astype(audio.dtype)
    return audio
