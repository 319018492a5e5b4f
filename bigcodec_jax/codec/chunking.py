"""Long audio in bounded memory with exact results: the chunk plan and the host loop over chunks.

Encoder and decoder are each `features` (convolutions) -> `recur` (unidirectional LSTM) ->
`head` (convolutions), see `codec/stages.py`; `BigCodecModel.encode_chunk` / `decode_chunk` run
one chunk, with contexts from `codec/receptive_field.py`.

Chunk j feeds the LSTM `new` frames `[k, k + new)`, `k = j * new`, from the final LSTM state
of chunk j - 1. Their features come from an input slice of `window`
frames with `features.left` frames of context before them and `features.right` after (the
first chunk starts at the file's start). The head then runs on the last `history` LSTM
outputs of earlier chunks followed by the new ones, and its outputs are kept only where its
whole receptive field lies inside that window: frames `[k - head.right, k + new - head.right)`,
or up to the file's end in a file's last chunk. Inside a window, positions past a file's end
are masked (`nn/masking.py`), so edges behave as in the whole file, and the replicate-padded
edges of a window never reach a kept output. A window of at least `ChunkPlan.shortest_window` frames
keeps every slice inside the file. Every chunk has the same shape; memory does not
depend on the file's length, and the result equals running the whole file at once.
"""
from __future__ import annotations

import math
from typing import Callable, NamedTuple

import numpy as np


class Context(NamedTuple):
    """Frames a stage reads before and after the frames it computes."""

    left: int
    right: int


class ChunkPlan(NamedTuple):
    """Chunk geometry of one network, in frames."""

    window: int        # input frames per chunk
    features: Context  # context of the features stage
    head: Context      # context of the head stage

    @property
    def new(self) -> int:
        """LSTM frames advanced per chunk."""
        return self.window - self.features.left - self.features.right

    @property
    def history(self) -> int:
        """LSTM outputs of earlier chunks the head reads."""
        return self.head.left + self.head.right

    @staticmethod
    def shortest_window(features: Context, head: Context) -> int:
        """The shortest exact window of a network with these contexts, in frames.

        A chunk after the first reads its input from `k - features.left` and its head's window from
        `k - history`, with `k` a multiple of `new`: both lie inside the file only when `new` is at
        least `features.left` and `history` (a shorter `new` would slice before the file's start).
        Every chunk also advances at least one frame.
        """
        return features.left + features.right + max(features.left, head.left + head.right, 1)


# (inputs, input lengths, window lengths[, state, history]) -> (outputs, state, history); the first
# chunk of a batch passes no state and history.
ChunkStep = Callable[..., tuple]


def _time_slice(x: np.ndarray, start: int, size: int) -> np.ndarray:
    """`x[..., start:start + size]`, zero-padded at the end to `size`."""
    part = x[..., start:start + size]
    missing = size - part.shape[-1]
    return np.pad(part, [(0, 0)] * (x.ndim - 1) + [(0, missing)]) if missing else part


def run_chunked(step: ChunkStep, plan: ChunkPlan, inputs: np.ndarray,
                frames: np.ndarray, rate_in: int, rate_out: int, put: Callable) -> np.ndarray:
    """Run a batch chunk by chunk and join the kept outputs.

    `inputs` `(B, ..., time)` hold `rate_in` steps per frame, `frames` `(B,)` the frames of each
    example; the steps return `(B, ..., window time)` at `rate_out` steps per frame; `put` moves
    host arrays to the devices. Returns `(B, ..., max(frames) * rate_out)`; each row is exact
    up to its own `frames * rate_out`.
    """
    out, state, history, pending = None, None, None, None
    for j in range(math.ceil(frames.max() / plan.new)):
        k = j * plan.new
        first = j == 0
        start = 0 if first else k - plan.features.left
        window_start = 0 if first else k - plan.history
        window_size = plan.new if first else plan.history + plan.new
        args = (put(_time_slice(inputs, start * rate_in, plan.window * rate_in)),
                put((np.clip(frames - start, 0, plan.window) * rate_in).astype(np.int32)),
                put(np.clip(frames - window_start, 0, window_size).astype(np.int32)))
        outputs, state, history = step(*args) if first else step(*args, state, history)
        if pending is not None:  # copy the previous chunk's results while the devices work on this one
            out = _keep(out, *pending, frames, plan, rate_out)
        pending = (outputs, k, window_start, first)
    return _keep(out, *pending, frames, plan, rate_out)


def _keep(out: np.ndarray | None, outputs, k: int, window_start: int, first: bool, frames: np.ndarray,
          plan: ChunkPlan, rate_out: int) -> np.ndarray:
    """Copy the outputs of one chunk whose receptive field lies inside its window into `out`."""
    outputs = np.asarray(outputs)
    if out is None:
        out = np.zeros(outputs.shape[:-1] + (int(frames.max()) * rate_out,), outputs.dtype)
    begin = 0 if first else k - plan.head.right
    for row, length in enumerate(frames):
        end = length if k + plan.new >= length else k + plan.new - plan.head.right
        if end > begin:
            out[row, ..., begin * rate_out:end * rate_out] = \
                outputs[row, ..., (begin - window_start) * rate_out:(end - window_start) * rate_out]
    return out
