"""Checks and conversions of waveforms at the API boundary: shape, finiteness, sample rate."""
from __future__ import annotations

import numpy as np

SAMPLE_RATE = 16000  # the codec's only native rate


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


def as_batch(wav: np.ndarray | list, sample_rate: int) -> np.ndarray:
    """`(samples,)` or `(B, samples)` float audio at `sample_rate` -> float32 `(B, samples)` at 16 kHz.

    Raises ValueError for empty, non-finite or wrongly shaped input and for a bad sample rate.
    """
    wav = np.asarray(wav)
    if wav.dtype.kind != "f":
        raise ValueError(f"audio must be floating-point samples in [-1, 1], got dtype {wav.dtype} "
                         "(scale integer PCM by its full-scale value first)")
    if wav.ndim == 1:
        wav = wav[None]
    if wav.ndim != 2:
        raise ValueError(f"audio must be (samples,) or (batch, samples), got shape {wav.shape}")
    if wav.shape[0] == 0 or wav.shape[1] == 0:
        raise ValueError(f"audio is empty (shape {wav.shape})")
    if not np.all(np.isfinite(wav)):
        raise ValueError("audio contains NaN or infinite samples")
    if not (isinstance(sample_rate, (int, np.integer)) and sample_rate > 0):
        raise ValueError(f"sample_rate must be a positive integer, got {sample_rate!r}")
    return resample(wav, int(sample_rate))


def pad_to_multiple(wav: np.ndarray, hop: int) -> np.ndarray:
    """Zero-pad the last axis up to a multiple of `hop` (no padding when it already is one)."""
    extra = -wav.shape[-1] % hop
    return np.pad(wav, [(0, 0)] * (wav.ndim - 1) + [(0, extra)]) if extra else wav
