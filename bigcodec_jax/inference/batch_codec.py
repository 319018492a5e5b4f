"""`BatchCodec`: encode and decode many clips of any length together, each exactly as if alone.

Clips are sorted by length and batched in that order, each batch padded to the next size of a
ladder (buckets), so that a batch pads little, only one batch is partial and a bounded set of
shapes ever compiles (`fit_ladder` picks, for a whole corpus, the finest ladder that keeps that
bound); each batch is split over the local devices along the `data` axis of a
mesh; clips longer than the window run in chunks (`chunking.py`) whose memory does not grow
with their length (`codec/passes.py` runs both). Per-example valid lengths make the padding invisible:
each clip's codes equal `BigCodec.encode` of that clip alone, its audio up to float rounding. An X-Codec2 or
NeuCodec (`family_api.XCodec2`) runs the same way through its own passes (`xcodec2/passes.py`), its clips
longer than the window one at a time through its `encode_batch` / `decode_batch`; audio comes out at the
codec's output rate (`output_sample_rate`, 24 kHz for NeuCodec), lengths count samples at that rate.
"""
from __future__ import annotations

import math
from typing import Callable, Iterable, Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from bigcodec_jax.api import BigCodec
from bigcodec_jax.codec.passes import Pass
from bigcodec_jax.family_api import XCodec2

SMALLEST_BUCKET_SECONDS = 1.0
BUCKET_GROWTH = 2 ** 0.125  # each bucket is about 1.09x the previous one: a clip is padded by at most 9 %
# The ladders `fit_ladder` chooses from, finest first (sizes about 2.2 %, 4.4 % and 9 % apart).
FINER_GROWTHS = (2 ** (1 / 32), 2 ** (1 / 16), BUCKET_GROWTH)
# At most this many padded sizes for a corpus: what BUCKET_GROWTH's ladder has from 1 s to 30 s (40).
MAX_SIZES = 40


def bucket_ladder(window: int, smallest: int, growth: float = BUCKET_GROWTH) -> list[int]:
    """Padded sizes in frames: `smallest`, growing by `growth`, up to and including `window`."""
    sizes, size = [], max(1, min(smallest, window))
    while size < window:
        sizes.append(size)
        size = math.ceil(size * growth)
    return sizes + [window]


def _bucket(ladder: list[int], frames: int) -> int | None:
    return next((size for size in ladder if size >= frames), None)


# What the `start_*` methods return: call it to wait for the batch's outputs, one per clip.
Waiting = Callable[[], list[np.ndarray]]


def _trimmed(wav: np.ndarray | jax.Array, lengths: Sequence[int]) -> Waiting:
    """Waits for a batch of audio on the devices and cuts each row to its clip's length."""
    return lambda: [row[:n] for row, n in zip(np.asarray(wav), lengths)]


def _consecutive(items: list[int], size: int) -> list[list[int]]:
    """`items` cut into runs of `size` in order, the remainder (if any) first."""
    first = len(items) % size
    return ([items[:first]] if first else []) + [items[i:i + size] for i in range(first, len(items), size)]


class BatchCodec:
    """Batched, sharded, chunked encode/decode of clips of any length with one `BigCodec` or `XCodec2`."""

    def __init__(self, codec: BigCodec | XCodec2, batch_size: int = 8, devices: Sequence[jax.Device] | None = None,
                 window_seconds: float = 30.0):
        devices = list(devices or jax.local_devices())
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.codec = codec
        self.passes = codec.passes_for_window(window_seconds)  # ValueError in seconds for a bad window
        self.mesh = Mesh(np.array(devices), ("data",))
        self.params = jax.device_put(codec.params, NamedSharding(self.mesh, PartitionSpec()))
        self.batch_size = math.ceil(batch_size / len(devices)) * len(devices)
        self.window = codec.seconds_to_frames(window_seconds)  # longer clips are chunked
        self.smallest = codec.seconds_to_frames(SMALLEST_BUCKET_SECONDS)  # the first size of every ladder
        self.buckets = bucket_ladder(self.window, self.smallest)
        self._rows = NamedSharding(self.mesh, PartitionSpec("data"))

    def bucket(self, frames: int) -> int | None:
        """The padded size in frames of a clip, or None when it is longer than the window (chunked)."""
        return _bucket(self.buckets, frames)

    def fit_ladder(self, frames: Sequence[int]) -> list[int]:
        """Pad from now on to the finest ladder of `FINER_GROWTHS` on which the `batches` of clips of these
        frames take at most `MAX_SIZES` padded sizes, and return it: a corpus pads less (the default ladder's
        rounding costs about 4 % of the work on a large one) and never compiles more sizes than the default
        ladder could. The `batches` themselves do not depend on the ladder."""
        maxima = {max(frames[i] for i in batch) for batch in self.batches(frames)}
        for growth in FINER_GROWTHS:
            ladder = bucket_ladder(self.window, self.smallest, growth)
            if len({_bucket(ladder, m) for m in maxima} - {None}) <= MAX_SIZES:
                break
        self.buckets = ladder
        return ladder

    def batches(self, frames: Sequence[int]) -> list[list[int]]:
        """Indices of clips in batches of at most `batch_size`, shortest first: consecutive clips in length order,
        so that each batch's clips are close in length, with the remainder in the first (shortest) batch; clips
        longer than the window (chunked) are batched after the others, apart from them."""
        order = sorted(range(len(frames)), key=lambda i: frames[i])
        whole = sum(frames[i] <= self.window for i in order)
        return _consecutive(order[:whole], self.batch_size) + _consecutive(order[whole:], self.batch_size)

    def batch_shape(self, frames: Sequence[int]) -> tuple[int, int | None]:
        """(rows, padded frames) of the device batch that runs clips of these frames together; frames None when
        the batch runs in chunks (a clip longer than the window)."""
        return len(self._rows_of(list(frames))), self.bucket(max(frames))

    def compile(self, shapes: Iterable[tuple[int, int]]) -> None:
        """Compile encode and decode ahead of time for whole batches of these (rows, padded frames) shapes,
        so that the first batch of each shape starts at once (benchmarks time compilation apart this way)."""
        hop, n_q = self.codec.hop_length, self.codec.num_quantizers
        for rows, size in shapes:
            lengths = jax.ShapeDtypeStruct((rows,), np.int32, sharding=self._rows)
            for step, inputs in ((self.passes.encode, ((rows, size * hop), np.float32)),
                                 (self.passes.decode, ((rows, n_q, size), np.int32))):
                if hasattr(step, "lower"):  # a family pass: its inputs are not one array (`xcodec2/passes.py`)
                    step.lower(self.params, rows, size, self._rows).compile()
                else:
                    step.whole.lower(self.params, jax.ShapeDtypeStruct(*inputs, sharding=self._rows),
                                     lengths).compile()

    def encode_batch(self, wavs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """At most `batch_size` 16 kHz mono float32 clips -> their codes, `(n_q, frames)` int32 each."""
        return self.start_encode(wavs)()

    def decode_batch(self, codes: Sequence[np.ndarray], lengths: Sequence[int]) -> list[np.ndarray]:
        """At most `batch_size` codes `(n_q, frames)` -> float32 audio of the given lengths (at the output rate)."""
        return self.start_decode(codes, lengths)()

    def start_encode(self, wavs: Sequence[np.ndarray]) -> Waiting:
        """`encode_batch` without waiting for the devices: call the result to wait for the codes."""
        frames = self._rows_of([self.codec.num_frames(len(w)) for w in wavs])
        codes = self._start(self.passes.encode, wavs, np.float32, frames)
        return lambda: [c[:, :n] for c, n in zip(np.asarray(codes), frames[:len(wavs)])]

    def start_decode(self, codes: Sequence[np.ndarray], lengths: Sequence[int]) -> Waiting:
        """`decode_batch` without waiting for the devices: call the result to wait for the audio."""
        for c, length in zip(codes, lengths):
            self.codec.check_codes(c[None], length)
        frames = self._rows_of([c.shape[-1] for c in codes])
        return _trimmed(self._start(self.passes.decode, codes, np.int32, frames), lengths)

    def start_reconstruct(self, wavs: Sequence[np.ndarray]) -> Waiting:
        """Encode then decode at most `batch_size` clips, the codes kept on the devices; call the result to wait
        for the audio: the same as `decode_batch(encode_batch(wavs), lengths)` (the decoder reads no code past a
        clip's frames), without a round trip through the host between the two."""
        frames = self._rows_of([self.codec.num_frames(len(w)) for w in wavs])
        lengths = [self.output_length(len(w), n) for w, n in zip(wavs, frames)]
        if self.bucket(frames.max()) is None:  # chunked: the codes go through the host loop anyway
            return self.start_decode(self.encode_batch(wavs), lengths)
        codes = self._start(self.passes.encode, wavs, np.float32, frames)
        return _trimmed(self.passes.decode.start(self.params, codes, frames, self.to_devices), lengths)

    def encode(self, wavs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Any number of 16 kHz mono clips of any lengths -> their codes, in order."""
        codes: list[np.ndarray | None] = [None] * len(wavs)
        for batch in self.batches([self.codec.num_frames(len(w)) for w in wavs]):
            for i, c in zip(batch, self.encode_batch([wavs[i] for i in batch])):
                codes[i] = c
        return codes

    def decode(self, codes: Sequence[np.ndarray], lengths: Sequence[int] | None = None) -> list[np.ndarray]:
        """Any number of codes `(n_q, frames)` -> audio at the output rate, in order (`lengths` default: frames *
        output hop)."""
        if lengths is None:
            lengths = [c.shape[-1] * self.passes.decode.rate_out for c in codes]
        wavs: list[np.ndarray | None] = [None] * len(codes)
        for batch in self.batches([c.shape[-1] for c in codes]):
            for i, w in zip(batch, self.decode_batch([codes[i] for i in batch], [lengths[i] for i in batch])):
                wavs[i] = w
        return wavs

    def output_length(self, samples: int, frames: int) -> int:
        """Samples of the decoded audio of a 16 kHz clip of `samples` with `frames` code frames: its length at the
        output rate, at most what the frames decode to (NeuCodec's frames can cover less than the clip)."""
        at_output_rate = samples * self.codec.output_sample_rate // self.codec.sample_rate
        return min(frames * self.passes.decode.rate_out, at_output_rate)

    def _rows_of(self, frames: list[int]) -> np.ndarray:
        """Frames per row, padded with empty rows to a power of two times the device count (at most `batch_size`)."""
        if not 0 < len(frames) <= self.batch_size:
            raise ValueError(f"a batch holds 1 to {self.batch_size} clips, got {len(frames)}")
        devices = self.mesh.devices.size
        rows = devices * 2 ** math.ceil(math.log2(math.ceil(len(frames) / devices)))
        return np.array(frames + [0] * (min(rows, self.batch_size) - len(frames)), np.int32)

    def _start(self, step: Pass, clips: Sequence[np.ndarray], dtype: type, frames: np.ndarray
               ) -> np.ndarray | jax.Array:
        """Pad clips (time last) into one batch of their bucket's size (or the longest, if chunked) and start it."""
        size = self.bucket(frames.max()) or frames.max()
        batch = np.zeros((len(frames), *clips[0].shape[:-1], size * step.rate_in), dtype)
        for row, clip in enumerate(clips):
            batch[row, ..., :clip.shape[-1]] = clip
        return step.start(self.params, batch, frames, self.to_devices)

    def to_devices(self, x: np.ndarray) -> jax.Array:
        """A host array on the devices, split along its first (batch) axis."""
        return jax.device_put(x, self._rows)
