"""Checks and conversions of waveforms at the API boundary: shape, finiteness, level, sample rate.

Ambiguous or implausible input is refused with a ValueError that says what to do, never guessed:
- `(N, C)` arrays with a short last axis (`C <= MAX_CHANNELS`, `C < N`) look like channels-last audio,
  not a batch of `N` clips of `C` samples: pass mono `(samples,)` or a batch `(batch, samples)`.
- sample rates are whole numbers of Hz (int, numpy integer or an integral float, never bool) from
  `MIN_SAMPLE_RATE` (1 kHz: a rate given in kHz, 16 for 16000, is caught) to `MAX_SAMPLE_RATE`.
- samples peaking above `MAX_PEAK` are far outside [-1, 1] (typically integer PCM cast to float
  without scaling): they are refused rather than normalised, so that levels never change silently.
  Peaks up to `MAX_PEAK` (6 dB over full scale, as resampling or float processing can give) pass.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

SAMPLE_RATE = 16000  # the codec's only native rate
MIN_SAMPLE_RATE = 1000
MAX_SAMPLE_RATE = 1_000_000
MAX_PEAK = 2.0
MAX_CHANNELS = 8  # a 2-D array whose last axis is at most this long (and shorter than the first) is refused


def whole_number(value: Any, name: str) -> int:
    """`value` as an int when it is a whole number (int, numpy integer, integral float); ValueError otherwise.

    Booleans are refused (`True` is not a sample rate or a length).
    """
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer, float, np.floating)):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if isinstance(value, (float, np.floating)) and not (math.isfinite(value) and value == int(value)):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    return int(value)


def decoded_length(length: Any, frames: int, samples_per_frame: int) -> int:
    """The length of `frames` decoded frames of `samples_per_frame` samples each, or `length` when given: a whole
    number with `0 < length <= frames * samples_per_frame` (ValueError otherwise)."""
    full = frames * samples_per_frame
    if length is None:
        return full
    length = whole_number(length, "length")
    if not 0 < length <= full:
        raise ValueError(f"length must be in 1..{full} for {frames} frames, got {length}")
    return length


def check_window_seconds(window_seconds: Any) -> None:
    """ValueError unless `window_seconds` (a codec's whole-clip window) is a finite number of seconds above 0."""
    if isinstance(window_seconds, bool) or not isinstance(window_seconds, (int, float, np.integer, np.floating)) \
            or not (math.isfinite(window_seconds) and window_seconds > 0):
        raise ValueError(f"window_seconds must be a positive number of seconds, got {window_seconds!r}")


def check_sample_rate(sample_rate: Any) -> int:
    """The sample rate in Hz as an int; ValueError unless a whole number in [MIN_SAMPLE_RATE, MAX_SAMPLE_RATE]."""
    rate = whole_number(sample_rate, "sample_rate")
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        hint = f" (in Hz: {rate * 1000}, not {rate})" if 0 < rate < MIN_SAMPLE_RATE else ""
        raise ValueError(f"sample_rate must be a rate in Hz from {MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE}, "
                         f"got {sample_rate!r}{hint}")
    return rate


def resampled_length(samples: int, sample_rate: int) -> int:
    """Samples at 16 kHz of `samples` samples at `sample_rate`: `ceil(samples * 16000 / sample_rate)`.

    The one place this length is decided: `resample` always returns exactly this many samples.
    """
    return -(-samples * SAMPLE_RATE // sample_rate)


def resample(wav: np.ndarray, sample_rate: int) -> np.ndarray:
    """Float32 audio `(..., samples)` at `sample_rate` -> 16 kHz (band-limited, librosa's default)."""
    wav = wav.astype(np.float32)
    if sample_rate == SAMPLE_RATE:
        return wav
    import librosa  # imported lazily: it is slow to import and only needed for resampling

    out = librosa.resample(wav, orig_sr=int(sample_rate), target_sr=SAMPLE_RATE, axis=-1)
    return librosa.util.fix_length(out, size=resampled_length(wav.shape[-1], sample_rate), axis=-1).astype(np.float32)


def as_array(value: Any, what: str) -> np.ndarray:
    """`value` as a numpy array; ValueError starting with `what` (e.g. "audio must be an array of float samples")
    for what numpy cannot make one of (ragged nested lists and the like)."""
    try:
        return np.asarray(value)
    except (ValueError, TypeError) as e:
        raise ValueError(f"{what} ({e})") from None


def check_samples(wav: np.ndarray, valid: np.ndarray | None = None) -> None:
    """ValueError unless `wav` holds floating-point samples, finite and peaking at most `MAX_PEAK`.

    `valid`: a boolean mask of `wav`'s shape; only the samples where it is True are checked (a stream's
    samples past a row's end are ignored).
    """
    if wav.dtype.kind != "f":
        raise ValueError(f"audio must be floating-point samples in [-1, 1], got dtype {wav.dtype} "
                         "(scale integer PCM by its full-scale value first)")
    samples = wav if valid is None else wav[valid]
    if not np.all(np.isfinite(samples)):
        raise ValueError("audio contains NaN or infinite samples")
    peak = float(np.max(np.abs(samples), initial=0.0))
    if peak > MAX_PEAK:
        raise ValueError(f"audio peaks at {peak:.4g}, far outside [-1, 1] (peaks up to {MAX_PEAK:g} are accepted): "
                         "scale it to [-1, 1] first (integer PCM: divide by its full scale, e.g. 32768 for 16 bits)")


def as_batch(wav: np.ndarray | list, sample_rate: int) -> np.ndarray:
    """`(samples,)` or `(B, samples)` float audio at `sample_rate` -> float32 `(B, samples)` at 16 kHz.

    Raises ValueError for a bad sample rate and for empty, non-finite, wrongly shaped, channels-last
    or far too loud input (see the module's docstring).
    """
    rate = check_sample_rate(sample_rate)
    wav = as_array(wav, "audio must be an array of float samples")
    if wav.ndim == 1:
        wav = wav[None]
    if wav.ndim != 2:
        raise ValueError(f"audio must be (samples,) or (batch, samples), got shape {wav.shape}")
    if 0 < wav.shape[1] <= MAX_CHANNELS and wav.shape[1] < wav.shape[0]:
        raise ValueError(f"audio of shape {wav.shape} looks like (samples, channels): pass mono audio as (samples,) "
                         "(e.g. wav.mean(axis=1)) or several clips as (batch, samples)")
    if wav.shape[0] == 0 or wav.shape[1] == 0:
        raise ValueError(f"audio is empty (shape {wav.shape})")
    check_samples(wav)
    return resample(wav, rate)


def pad_to_multiple(wav: np.ndarray, hop: int) -> np.ndarray:
    """Zero-pad the last axis up to a multiple of `hop` (no padding when it already is one)."""
    extra = -wav.shape[-1] % hop
    return np.pad(wav, [(0, 0)] * (wav.ndim - 1) + [(0, extra)]) if extra else wav
