"""One stored utterance -> float32 16 kHz mono samples, whole or as a fixed-length training crop.

Every failure (unreadable, empty, truncated, non-finite) is a ValueError with the reason, so the
loader can skip exactly these and let programming errors surface.
"""
from __future__ import annotations

import numpy as np

from bigcodec_jax.audio import SAMPLE_RATE, as_batch
from bigcodec_jax.io.audio_files import audio_info, read_audio, read_audio_range

PCM16_SCALE = 32768.0


def crop_start(length: int, segment: int, rng: np.random.Generator) -> int:
    """Uniform start of a `segment`-sample crop in `length` samples (0 when the utterance is not longer)."""
    return int(rng.integers(0, length - segment + 1)) if length > segment else 0


def pad_to(wav: np.ndarray, segment: int) -> np.ndarray:
    """Zero-pad at the end up to `segment` samples (as the official loader does with short utterances)."""
    return np.pad(wav, (0, segment - len(wav))) if len(wav) < segment else wav


def fit_to_segment(wav: np.ndarray, segment: int, rng: np.random.Generator) -> np.ndarray:
    """A random `segment`-sample crop, or the whole utterance zero-padded at the end."""
    start = crop_start(len(wav), segment, rng)
    return pad_to(wav[start:start + segment], segment)


def pcm_to_float(samples: np.ndarray) -> np.ndarray:
    """Integer PCM scaled to [-1, 1] as float32; float input is only cast.

    int64 is tfds's default Audio dtype and holds 16-bit samples for speech datasets, so it is
    scaled like int16; other integer types by their own full scale.
    """
    if samples.dtype.kind == "f":
        return samples.astype(np.float32)
    if samples.dtype == np.int64:
        return (samples / PCM16_SCALE).astype(np.float32)
    if samples.dtype.kind == "u":
        half = (np.iinfo(samples.dtype).max + 1) / 2
        return ((samples - half) / half).astype(np.float32)
    return (samples / (np.iinfo(samples.dtype).max + 1.0)).astype(np.float32)


def to_16k_mono(samples: np.ndarray, rate: int) -> np.ndarray:
    """`(samples,)` or `(samples, channels)` PCM at `rate` -> float32 mono at 16 kHz (band-limited resampling)."""
    wav = pcm_to_float(np.asarray(samples))
    if wav.ndim == 2:
        wav = wav.mean(axis=1)
    return as_batch(wav, int(rate))[0]


def read_file(path: str) -> np.ndarray:
    """A whole audio file as float32 16 kHz mono."""
    wav, rate = read_audio(path)
    return to_16k_mono(wav, rate)


def read_file_crop(path: str, segment: int, rng: np.random.Generator) -> np.ndarray:
    """A `segment`-sample crop of a file at 16 kHz.

    16 kHz files are read only around the crop (seeking), which keeps 1 s crops of long
    utterances cheap; files at other rates are read whole and resampled first.
    """
    frames, rate, seekable = audio_info(path)
    if rate != SAMPLE_RATE or not seekable:
        return fit_to_segment(read_file(path), segment, rng)
    start = crop_start(frames, segment, rng)
    return pad_to(read_audio_range(path, start, min(segment, frames - start)), segment)
