"""X-Codec2 / NeuCodec encode and decode behind the `Pass` interface of `codec/passes.py`, for batched callers.

`inference.BatchCodec` pads clips (time last) into a batch, hands it with each row's code frames to a pass's
`start`, and cuts the outputs back; these passes let it run a family codec the same way. Encoding prepares each
row on the host as the codec does one clip (`prepare.prepare`: the acoustic input and its semantic features),
which a zero-padded row allows exactly: a clip of `n` code frames is padded by the codec to `padded_samples(n)`
samples with zeros, so `row[:padded_samples(n) - 1]` prepares to the very same inputs as the clip itself.
Batches longer than the window go one row at a time through the codec's own `encode_batch` / `decode_batch`
(which handle long clips), as a row needs no more than its own inputs.
"""
from __future__ import annotations

import functools
import math
from typing import Any, Callable, NamedTuple

import jax
import ml_collections
import numpy as np

from bigcodec_jax.codec.model import DTYPES
from bigcodec_jax.xcodec2.config import FEATURE_PADDING
from bigcodec_jax.xcodec2.features import FEATURE_DIM, FRAME, HOP as FEATURE_HOP, MIN_SAMPLES, STACK
from bigcodec_jax.xcodec2.model import XCodec2Model
from bigcodec_jax.xcodec2.prepare import HOP, prepare


def num_frames(samples: int, family: str) -> int:
    """Code frames of a 16 kHz clip of `samples` (0 when it is too short for the semantic features): the fewer
    of the acoustic frames of the padded clip and the semantic frames of its features (`prepare.code_frames`)."""
    padded = (samples // HOP + 1) * HOP
    feature_input = padded + 2 * FEATURE_PADDING[family]
    if feature_input < MIN_SAMPLES:
        return 0
    return min(padded // HOP, math.ceil(((feature_input - FRAME) // FEATURE_HOP + 1) / STACK))


def padded_samples(frames: int, family: str) -> int:
    """Samples of the acoustic input of a clip of `frames` code frames (the codec pads every clip to whole
    frames, by at least one sample): the smallest multiple of `HOP` whose clips one sample shorter have them."""
    size = frames
    while num_frames(size * HOP - 1, family) < frames:
        size += 1
    return size * HOP


@functools.lru_cache(maxsize=None)
def jitted(config: ml_collections.FrozenConfigDict, dtype: str) -> tuple[Callable, Callable]:
    """The jitted `encode_codes` and `decode_codes` of a frozen family config and dtype, shared by every codec
    (and every run in a process) with them, like BigCodec's `codec.passes.passes_for`."""
    model = XCodec2Model(config, DTYPES[dtype])

    def method(name: str) -> Callable:
        return jax.jit(lambda params, *args: model.apply({"params": params}, *args, method=getattr(XCodec2Model, name)))

    return method("encode_codes"), method("decode_codes")


Put = Callable[[np.ndarray], jax.Array]


class EncodePass(NamedTuple):
    """Audio `(B, samples)` (zero-padded, at least `HOP` per frame) and code frames `(B,)` -> codes `(B, 1, F)`."""

    whole: Callable    # jitted (params, wav, features, samples, feature frames) -> codes, see XCodec2Model
    alone: Callable    # one clip `(samples,)` -> its codes `(1, frames)`: the codec's `encode_batch` of it
    family: str
    window: int        # frames; longer batches run row by row through `alone`
    rate_in: int = HOP
    rate_out: int = 1

    def _clips(self, inputs: np.ndarray, frames: np.ndarray) -> list[np.ndarray | None]:
        inputs = np.asarray(inputs)
        return [inputs[row, :padded_samples(n, self.family) - 1] if n else None for row, n in enumerate(frames)]

    def start(self, params: Any, inputs: np.ndarray, frames: np.ndarray | None, put: Put = jax.device_put
              ) -> np.ndarray | jax.Array:
        """The codes of a batch: on the devices, not waited for, when it is within the window."""
        size = inputs.shape[-1] // self.rate_in
        frames = np.full(inputs.shape[0], size, np.int32) if frames is None else np.asarray(frames)
        clips = self._clips(inputs, frames)
        if size > self.window:
            codes = np.zeros((len(clips), 1, size), np.int32)
            for row, clip in enumerate(clips):
                if clip is not None:
                    codes[row, :, :frames[row]] = self.alone(clip)
            return codes
        wav = np.zeros((len(clips), padded_samples(size, self.family)), np.float32)
        prepared = [prepare(clip, self.family) if clip is not None else None for clip in clips]
        width = max([size] + [p[1].shape[0] for p in prepared if p is not None])
        features = np.zeros((len(clips), width, FEATURE_DIM), np.float32)
        samples, feature_frames = np.zeros(len(clips), np.int32), np.zeros(len(clips), np.int32)
        for row, p in enumerate(prepared):
            if p is not None:
                audio, feats = p
                wav[row, :audio.shape[0]], features[row, :feats.shape[0]] = audio, feats
                samples[row], feature_frames[row] = audio.shape[0], feats.shape[0]
        return self.whole(params, put(wav), put(features), put(samples), put(feature_frames))[..., :size]

    def run(self, params: Any, inputs: np.ndarray, frames: np.ndarray | None, put: Put = jax.device_put
            ) -> np.ndarray:
        return np.asarray(self.start(params, inputs, frames, put))

    def lower(self, params: Any, rows: int, size: int, sharding: jax.sharding.Sharding) -> jax.stages.Lowered:
        """The whole pass lowered for `rows` clips padded to `size` frames (to compile it ahead of time)."""
        def spec(*shape, dtype=np.float32):
            return jax.ShapeDtypeStruct(shape, dtype, sharding=sharding)
        return self.whole.lower(params, spec(rows, padded_samples(size, self.family)), spec(rows, size, FEATURE_DIM),
                                spec(rows, dtype=np.int32), spec(rows, dtype=np.int32))


class DecodePass(NamedTuple):
    """Codes `(B, 1, F)` and their frames `(B,)` -> audio `(B, F * rate_out)` at the codec's output rate."""

    whole: Callable    # jitted (params, codes, frames) -> audio, see XCodec2Model.decode_codes
    alone: Callable    # one clip's codes `(1, frames)` -> its audio: the codec's `decode_batch` of them
    window: int        # frames; longer batches run row by row through `alone`
    rate_out: int      # output samples a frame
    rate_in: int = 1

    def start(self, params: Any, inputs: np.ndarray | jax.Array, frames: np.ndarray | None, put: Put = jax.device_put
              ) -> np.ndarray | jax.Array:
        """The audio of a batch: on the devices, not waited for, when it is within the window. `inputs` may
        already be on the devices (the encode pass's outputs)."""
        size = inputs.shape[-1]
        frames = np.full(inputs.shape[0], size, np.int32) if frames is None else np.asarray(frames, np.int32)
        if size <= self.window:
            return self.whole(params, put(inputs), put(frames))
        codes, wav = np.asarray(inputs), np.zeros((inputs.shape[0], size * self.rate_out), np.float32)
        for row, n in enumerate(frames):
            if n:
                wav[row, :n * self.rate_out] = self.alone(codes[row, :, :n])
        return wav

    def run(self, params: Any, inputs: np.ndarray, frames: np.ndarray | None, put: Put = jax.device_put
            ) -> np.ndarray:
        return np.asarray(self.start(params, inputs, frames, put))

    def lower(self, params: Any, rows: int, size: int, sharding: jax.sharding.Sharding) -> jax.stages.Lowered:
        """The whole pass lowered for `rows` code sequences padded to `size` frames."""
        return self.whole.lower(params, jax.ShapeDtypeStruct((rows, 1, size), np.int32, sharding=sharding),
                                jax.ShapeDtypeStruct((rows,), np.int32, sharding=sharding))


class Passes(NamedTuple):
    encode: EncodePass
    decode: DecodePass

