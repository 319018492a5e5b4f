"""Audio files: the one place that reads and writes them (soundfile), for data, inference and evaluation.

Reading gives mono float32 samples at the file's own rate (channels averaged, integer PCM scaled
to [-1, 1]); every unreadable, empty or truncated file is a ValueError with the reason, so
callers can skip and name exactly those. `audio.py` resamples to 16 kHz.
"""
from __future__ import annotations

import numpy as np
import soundfile as sf

from bigcodec_jax.audio import SAMPLE_RATE

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")


def _unreadable(e: Exception) -> ValueError:
    return ValueError(f"cannot read audio ({e})")


def audio_info(path: str) -> tuple[int, int, bool]:
    """(samples, sample rate, seekable) from the file's header, without decoding it."""
    try:
        with sf.SoundFile(path) as f:
            frames, rate, seekable = f.frames, f.samplerate, f.seekable()
    except Exception as e:  # soundfile raises several types for damaged files
        raise _unreadable(e) from None
    if frames <= 0:
        raise ValueError("the file holds no samples")
    return frames, rate, seekable


def read_audio(path: str) -> tuple[np.ndarray, int]:
    """Mono float32 samples and the sample rate of the whole file."""
    try:
        wav, rate = sf.read(path, dtype="float32", always_2d=True)
    except Exception as e:  # soundfile raises several types for damaged files
        raise _unreadable(e) from None
    if wav.size == 0:
        raise ValueError("the file holds no samples")
    return wav.mean(axis=1), rate


def read_audio_range(path: str, start: int, count: int) -> np.ndarray:
    """Mono float32 samples `[start, start + count)` of a seekable file, read without decoding the rest."""
    try:
        wav = sf.read(path, start=start, frames=count, dtype="float32", always_2d=True)[0].mean(axis=1)
    except Exception as e:  # soundfile raises several types for damaged files
        raise _unreadable(e) from None
    if len(wav) < count:
        raise ValueError(f"truncated: {len(wav)} of {count} samples readable at sample {start}")
    if not np.all(np.isfinite(wav)):
        raise ValueError("audio contains NaN or infinite samples")
    return wav


def write_wav(path: str, wav: np.ndarray) -> None:
    """16 kHz mono float audio as a 16-bit PCM wav."""
    sf.write(path, wav, SAMPLE_RATE, format="WAV", subtype="PCM_16")
