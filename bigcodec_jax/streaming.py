"""Streams: encode audio to codes and decode codes to audio piece by piece, equal to offline.

    enc = codec.stream_encoder(batch_size=1)   # enc.latency_ms: the lookahead the model needs
    codes = enc.push(wav_piece)                # (B, n) float32 at 16 kHz -> int32 (B, n_q, k) final frames
    codes = enc.flush()                        # the remaining frames
    dec = codec.stream_decoder(batch_size=1)
    audio = dec.push(codes_piece)              # (B, n_q, k) int -> float32 (B, m) final samples
    audio = dec.flush(length=None)             # the rest, trimmed to a total of `length` samples

The concatenated outputs of any sequence of pushes equal offline `BigCodec.encode` / `decode` of
the whole signal: codes identical, audio to float32 rounding. The device side is
`codec/stream_steps.py` (every layer keeps its own context, nothing is computed twice); this module
buffers pieces into whole frames, runs them in blocks of `block_frames` (one compiled step per
block size, whatever the push sizes), drops what is not final yet, checks inputs and flushes.

- **Latency.** A frame's output is final once `lookahead_frames` more frames have been pushed
  (the model's receptive field: 27 frames = 337.5 ms for the released encoder, 30 = 375 ms for
  its decoder). Pushes smaller than a frame are buffered. With `lookahead_frames=k` below that,
  each push also runs a *speculative flush* on a copy of the state: what has not been pushed yet
  is treated as the end of the signal (the offline edge padding), and outputs up to `k` frames
  before the pushed end are emitted from it. Every output then sees at least `k` frames of
  lookahead (more when a push brings several frames); the stream's own state stays exact, and
  `flush` ends it exactly. The speculative flush costs about `lookahead - k` frames of
  computation per push.
- **Batches.** B streams advance together: every push is `(B, ...)` with the same number of steps
  per row. Streams of different lengths end one by one: `push(piece, lengths=...)` says how many
  steps of the piece are real for each row; a row with fewer than the piece's length ends there
  (later pieces are ignored for it), and `flush` ends the others. A row's outputs past its own end
  are filler (code 0, silence) while a longer row goes on; its results are exact up to its length.
  Once every row has ended nothing more is run or returned: the joined outputs end at the longest
  row's end, whatever the lookahead.
- **Errors.** A push's values are checked as offline `encode` / `decode` check them (the same
  functions: `audio.check_samples`, `codes.check_code_values`). A bad push (batch size, rank, dtype,
  NaN or inf audio, audio peaking above `audio.MAX_PEAK`, codes out of range, bad `lengths`, a push
  or flush after `flush`) raises `ValueError` before anything changes, so the stream can go on with a
  correct piece. Bad options (`batch_size`, `lookahead_frames`, `block_frames`, `length`: whole
  numbers, never bools) raise a `ValueError` naming the option.

Over 300 lines because this docstring is the streams' one statement of their rules (docs/streaming.md
points here) and the two streams share their buffering, checks and flush.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from bigcodec_jax import audio
from bigcodec_jax.codec.stream_steps import LIMIT, StreamPass
from bigcodec_jax.codes import check_code_values

DEFAULT_BLOCK_FRAMES = (1, 2, 8, 32)  # a step compiles on first use of its size: 20, 80 and 320 ms pushes fit


def _whole_number(value: Any, name: str, least: int, most: int | None = None) -> int:
    """An option's value as an int: a whole number (`audio.whole_number`, never a bool) in `[least, most]`."""
    number = audio.whole_number(value, name)
    if number < least or (most is not None and number > most):
        raise ValueError(f"{name} must be " + (f"at least {least}" if most is None else f"from {least} to {most}")
                         + f", got {value!r}")
    return number


def _block_sizes(block_frames: Any) -> list[int]:
    """The distinct block sizes, largest first; ValueError naming `block_frames` unless a non-empty sequence of
    whole numbers from 1 to `LIMIT` (frame counts inside a block are clipped to `LIMIT`)."""
    if isinstance(block_frames, (str, bytes)) or not isinstance(block_frames, (Sequence, np.ndarray)) \
            or len(block_frames) == 0:
        raise ValueError(f"block_frames must be a non-empty sequence of frame counts, got {block_frames!r}")
    return sorted({_whole_number(n, "block_frames", 1, LIMIT) for n in block_frames}, reverse=True)


class _Stream:
    """Buffering, block scheduling, output bookkeeping and flushing shared by both directions."""

    def __init__(self, stream_pass: StreamPass, params: Any, batch_size: int, lookahead_frames: int | None,
                 block_frames: Sequence[int], hop_length: int, sample_rate: int):
        self.batch_size = _whole_number(batch_size, "batch_size", 1)
        self._pass, self._params, self._blocks = stream_pass, params, _block_sizes(block_frames)
        exact = stream_pass.lookahead
        self.exact_lookahead_frames = exact
        self.lookahead_frames = exact if lookahead_frames is None else \
            min(_whole_number(lookahead_frames, "lookahead_frames", 0), exact)
        self.latency_ms = 1000.0 * self.lookahead_frames * hop_length / sample_rate
        self._const = stream_pass.prepare(params)
        self._state = stream_pass.init(params, self.batch_size)
        self._pending = self._empty_input()  # pushed steps not yet run (less than a frame after a push)
        self._pushed = 0                     # input steps pushed per row
        self._frames = 0                     # frames run through the network
        self._ends = np.full(self.batch_size, -1, np.int64)  # each ended row's input steps, -1 while open
        self._emitted = 0                    # output steps returned
        self._finished = False

    # Direction-specific parts.
    def _empty_input(self) -> np.ndarray:
        raise NotImplementedError

    def _empty_output(self) -> np.ndarray:
        raise NotImplementedError

    def _array(self, piece: Any) -> np.ndarray:
        """The piece as an array of the right shape (ValueError otherwise); its values are checked by `_check`."""
        raise NotImplementedError

    def _check(self, piece: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """The piece as the device takes it, after checking its values where `valid (B, n)` is True with the checks
        of the offline call."""
        raise NotImplementedError

    # Pushing and flushing.
    def _push(self, piece: Any, lengths: Any) -> np.ndarray:
        if self._finished:
            raise ValueError("this stream was flushed: start a new one to push more")
        piece = self._array(piece)
        n = piece.shape[-1]
        lengths = self._lengths(lengths, n)
        valid = np.arange(n)[None, :] < lengths[:, None]
        piece = np.where(valid.reshape(valid.shape[:1] + (1,) * (piece.ndim - 2) + valid.shape[1:]),
                         self._check(piece, valid), 0).astype(self._pending.dtype)
        ending = (self._ends < 0) & (lengths < n)
        self._ends[ending] = self._pushed + lengths[ending]
        if (self._ends >= 0).all():  # every row has ended: nothing past the longest is run or returned
            n = max(int(self._ends.max()) - self._pushed, 0)
            piece = piece[..., :n]
        self._pending = np.concatenate([self._pending, piece], axis=-1)
        self._pushed += n
        frames = self._pending.shape[-1] // self._pass.rate_in
        inputs = self._pending[..., :frames * self._pass.rate_in]
        self._pending = self._pending[..., frames * self._pass.rate_in:]
        self._state, self._frames, outputs = self._run(self._state, self._frames, inputs, self._ends)
        out = self._collect(outputs, np.iinfo(np.int64).max)
        if self.lookahead_frames < self.exact_lookahead_frames:
            out = np.concatenate([out, self._speculate()], axis=-1)
        return out

    def _speculate(self) -> np.ndarray:
        """Outputs up to `lookahead_frames` before the pushed end, as if the signal ended there."""
        target = (self._pushed // self._pass.rate_in - self.lookahead_frames) * self._pass.rate_out
        if target <= self._emitted:
            return self._empty_output()
        ends = np.where(self._ends < 0, self._pushed, self._ends)
        _, _, outputs = self._run(self._state, self._frames, self._tail(ends, target), ends)
        return self._collect(outputs, target, ends)

    def _finish(self) -> np.ndarray:
        """The remaining outputs, up to the longest row's end."""
        if self._finished:
            raise ValueError("this stream was already flushed")
        self._ends = np.where(self._ends < 0, self._pushed, self._ends)
        ends_out = -(-self._ends // self._pass.rate_in) * self._pass.rate_out
        limit = int(ends_out.max())
        _, _, outputs = self._run(self._state, self._frames, self._tail(self._ends, limit), self._ends)
        self._finished = True
        return self._collect(outputs, limit, self._ends)

    def _tail(self, ends: np.ndarray, limit: int) -> np.ndarray:
        """The pending input, zero-padded to the frames whose outputs reach `limit` output steps."""
        frames = max(-(-(limit + self._pass.delay) // self._pass.rate_out) - self._frames, 0)
        pad = frames * self._pass.rate_in - self._pending.shape[-1]
        return np.pad(self._pending, [(0, 0)] * (self._pending.ndim - 1) + [(0, max(pad, 0))])

    def _lengths(self, lengths: Any, n: int) -> np.ndarray:
        open_rows = self._ends < 0
        if lengths is None:
            return np.where(open_rows, n, 0)
        lengths = audio.as_array(lengths, f"lengths must be {self.batch_size} integers")
        if lengths.shape != (self.batch_size,) or lengths.dtype.kind not in "iu":
            raise ValueError(f"lengths must be {self.batch_size} integers (real steps of the piece per row), "
                             f"got {lengths!r}")
        if (lengths < 0).any() or (lengths > n).any():
            raise ValueError(f"lengths must be in 0..{n} (the piece's length), got {lengths.tolist()}")
        if (lengths[~open_rows] > 0).any():
            raise ValueError(f"rows {np.flatnonzero(~open_rows & (lengths > 0)).tolist()} have ended: "
                             f"their lengths must be 0")
        return lengths.astype(np.int64)

    # Running blocks.
    def _run(self, state: Any, frames: int, inputs: np.ndarray, ends: np.ndarray) -> tuple[Any, int, list]:
        """Run the whole frames of `inputs`: (state, frames run, [(first output position, real outputs, outputs)]).

        Each call runs the smallest block size that holds the frames left (the largest while more
        are left), its tail filled with zeros: on a CPU a call costs about as much as reading the
        weights once, so one call per push beats several small ones.
        """
        p = self._pass
        end_frames = np.where(ends < 0, frames + 2 * LIMIT, -(-ends // p.rate_in))
        total, done, outputs = inputs.shape[-1] // p.rate_in, 0, []
        while done < total:
            count = min(total - done, self._blocks[0])
            if frames < p.recur_delay < frames + count:  # the LSTM's first real frame starts a block
                count = p.recur_delay - frames
            size = min(b for b in self._blocks if b >= count)
            block = inputs[..., done * p.rate_in:(done + count) * p.rate_in]
            block = np.pad(block, [(0, 0)] * (block.ndim - 1) + [(0, (size - count) * p.rate_in)])
            until_end = np.clip(end_frames - frames, -LIMIT, LIMIT).astype(np.int32)
            state, out = p.step(self._params, self._const, state, block, np.int32(count),
                                np.int32(min(frames, LIMIT)), until_end)
            outputs.append((frames * p.rate_out - p.delay, count * p.rate_out, out))  # sliced on the host
            frames, done = frames + count, done + count
        return state, frames, outputs

    def _collect(self, outputs: list, limit: int, ends: np.ndarray | None = None) -> np.ndarray:
        """The outputs at positions `[emitted, limit)`, filler past each ended row's end; advances `emitted`."""
        parts = []
        for first, real, out in outputs:
            out = np.asarray(out)
            lo, hi = max(self._emitted - first, 0), min(limit - first, real)
            if hi > lo:
                parts.append(out[..., lo:hi])
                self._emitted = first + hi
        out = np.concatenate([self._empty_output()] + parts, axis=-1)
        ends = self._ends if ends is None else ends
        if (ends >= 0).any() and out.shape[-1]:
            ends_out = np.where(ends < 0, np.iinfo(np.int64).max,
                                -(-ends // self._pass.rate_in) * self._pass.rate_out)
            position = self._emitted - out.shape[-1] + np.arange(out.shape[-1])
            past = position[None, :] >= ends_out[:, None]
            out = np.where(past.reshape(past.shape[:1] + (1,) * (out.ndim - 2) + past.shape[1:]), 0, out)
        return out


class StreamEncoder(_Stream):
    """Audio pieces `(B, n)` at 16 kHz -> the codes `(B, n_q, k)` that have become final."""

    def __init__(self, stream_pass: StreamPass, params: Any, num_quantizers: int, batch_size: int = 1,
                 lookahead_frames: int | None = None, block_frames: Sequence[int] = DEFAULT_BLOCK_FRAMES,
                 sample_rate: int = 16000):
        self.num_quantizers = num_quantizers
        super().__init__(stream_pass, params, batch_size, lookahead_frames, block_frames, stream_pass.rate_in,
                         sample_rate)

    def _empty_input(self) -> np.ndarray:
        return np.zeros((self.batch_size, 0), np.float32)

    def _empty_output(self) -> np.ndarray:
        return np.zeros((self.batch_size, self.num_quantizers, 0), np.int32)

    def _array(self, piece: Any) -> np.ndarray:
        piece = audio.as_array(piece, "audio pieces must be arrays of float samples")
        if piece.ndim != 2 or piece.shape[0] != self.batch_size:
            raise ValueError(f"audio pieces must be (batch={self.batch_size}, samples), got shape {piece.shape}")
        return piece

    def _check(self, piece: np.ndarray, valid: np.ndarray) -> np.ndarray:
        audio.check_samples(piece, valid)  # as `encode`: floating point, finite, peaks up to audio.MAX_PEAK
        return piece.astype(np.float32)

    def push(self, wav: np.ndarray, lengths: Sequence[int] | None = None) -> np.ndarray:
        """Audio `(B, n)` float at 16 kHz -> int32 codes `(B, n_q, k)`, the frames that became final (k >= 0).

        `lengths (B,)`: real samples of this piece per row (default all); a row with fewer ends here.
        """
        return self._push(wav, lengths)

    def flush(self) -> np.ndarray:
        """The remaining codes `(B, n_q, k)`: each row's audio ends where it was pushed (or its `lengths`)."""
        return self._finish()


class StreamDecoder(_Stream):
    """Code pieces `(B, n_q, k)` -> the audio `(B, m)` at 16 kHz that has become final."""

    def __init__(self, stream_pass: StreamPass, params: Any, num_quantizers: int, codebook_size: int,
                 batch_size: int = 1, lookahead_frames: int | None = None,
                 block_frames: Sequence[int] = DEFAULT_BLOCK_FRAMES, sample_rate: int = 16000):
        self.num_quantizers, self.codebook_size = num_quantizers, codebook_size
        super().__init__(stream_pass, params, batch_size, lookahead_frames, block_frames, stream_pass.rate_out,
                         sample_rate)

    def _empty_input(self) -> np.ndarray:
        return np.zeros((self.batch_size, self.num_quantizers, 0), np.int32)

    def _empty_output(self) -> np.ndarray:
        return np.zeros((self.batch_size, 0), np.float32)

    def _array(self, piece: Any) -> np.ndarray:
        piece = audio.as_array(piece, "code pieces must be integer arrays")
        if piece.ndim != 3 or piece.shape[:2] != (self.batch_size, self.num_quantizers):
            raise ValueError(f"code pieces must be (batch={self.batch_size}, n_q={self.num_quantizers}, frames), "
                             f"got shape {piece.shape}")
        return piece

    def _check(self, piece: np.ndarray, valid: np.ndarray) -> np.ndarray:
        check_code_values(piece, self.codebook_size, np.broadcast_to(valid[:, None, :], piece.shape))  # as `decode`
        return piece

    def push(self, codes: np.ndarray, lengths: Sequence[int] | None = None) -> np.ndarray:
        """Codes `(B, n_q, k)` -> float32 audio `(B, m)`, the samples that became final (m >= 0).

        `lengths (B,)`: real frames of this piece per row (default all); a row with fewer ends here.
        """
        return self._push(codes, lengths)

    def flush(self, length: int | None = None) -> np.ndarray:
        """The remaining audio `(B, m)`, trimmed to a total of `length` samples (default: the frames * hop).

        `length` lies between the samples already returned and the longest row's frames * hop.
        """
        if self._finished:
            raise ValueError("this stream was already flushed")
        if length is not None:
            frames = np.where(self._ends < 0, self._pushed, self._ends).max()
            length = audio.whole_number(length, "length")  # as `decode`
            if not self._emitted <= length <= frames * self._pass.rate_out:
                raise ValueError(f"length must be from the {self._emitted} samples already returned "
                                 f"to frames * hop = {frames * self._pass.rate_out}, got {length!r}")
        out = self._finish()
        return out if length is None else out[:, :out.shape[1] - (self._emitted - length)]
