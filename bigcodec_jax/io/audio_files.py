"""Audio files: the one place that reads and writes them (soundfile), for data, inference and evaluation.

Reading gives mono float32 samples at the file's own rate (channels averaged, integer PCM scaled
to [-1, 1]); every unreadable, empty or truncated file is a ValueError with the reason, so
callers can skip and name exactly those. `audio.py` resamples to 16 kHz. Paths may be URLs
(`paths.py`): soundfile then reads a file object, the whole file fetched in one request, or for
headers and crops only the blocks around what is read.
"""
from __future__ import annotations

import contextlib
import os
from typing import IO, Iterator

import numpy as np
import soundfile as sf

from bigcodec_jax.audio import SAMPLE_RATE
from bigcodec_jax.io import paths

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")
REMOTE_BLOCK_BYTES = 2 ** 18  # a remote file read in part (header, crop) is fetched in blocks of this size


def _unreadable(path: str, e: Exception) -> ValueError:
    """The reason `path` could not be read: "no such file" when it is not there (soundfile would say "Error
    opening ...: System error."), else soundfile's."""
    if isinstance(e, FileNotFoundError) or not (paths.is_remote(path) or os.path.exists(path)):
        return ValueError("no such file")
    return ValueError(f"cannot read audio ({e})")


@contextlib.contextmanager
def _seekable(path: str) -> Iterator[str | IO[bytes]]:
    """`path` itself, or a remote file opened for reading in blocks (for reads of part of a file)."""
    if not paths.is_remote(path):
        yield path
        return
    with paths.open_file(path, "rb", block_size=REMOTE_BLOCK_BYTES) as f:
        yield f


def audio_info(path: str) -> tuple[int, int, bool]:
    """(samples, sample rate, seekable) from the file's header, without decoding it."""
    try:
        with _seekable(path) as source, sf.SoundFile(source) as f:
            frames, rate, seekable = f.frames, f.samplerate, f.seekable()
    except Exception as e:  # soundfile raises several types for damaged files
        raise _unreadable(path, e) from None
    if frames <= 0:
        raise ValueError("the file holds no samples")
    return frames, rate, seekable


def read_audio(path: str) -> tuple[np.ndarray, int]:
    """Mono float32 samples and the sample rate of the whole file."""
    try:
        wav, rate = sf.read(paths.readable(path), dtype="float32", always_2d=True)
    except Exception as e:  # soundfile raises several types for damaged files
        raise _unreadable(path, e) from None
    if wav.size == 0:
        raise ValueError("the file holds no samples")
    return wav.mean(axis=1), rate


def read_audio_range(path: str, start: int, count: int) -> np.ndarray:
    """Mono float32 samples `[start, start + count)` of a seekable file, read without decoding the rest."""
    try:
        with _seekable(path) as source:
            wav = sf.read(source, start=start, frames=count, dtype="float32", always_2d=True)[0].mean(axis=1)
    except Exception as e:  # soundfile raises several types for damaged files
        raise _unreadable(path, e) from None
    if len(wav) < count:
        raise ValueError(f"truncated: {len(wav)} of {count} samples readable at sample {start}")
    if not np.all(np.isfinite(wav)):
        raise ValueError("audio contains NaN or infinite samples")
    return wav


def write_wav(path: str, wav: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """Mono float audio (16 kHz unless said) as a 16-bit PCM wav at the local `path` (outputs:
    `staged.staged_file`'s)."""
    sf.write(path, wav, sample_rate, format="WAV", subtype="PCM_16")
