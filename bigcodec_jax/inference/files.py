"""Inputs and outputs on disk: expanding folders and file lists, reading audio, atomic writes."""
from __future__ import annotations

import os
import tempfile
from typing import Callable, Iterator

import numpy as np
import soundfile as sf

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")
LIST_EXTENSIONS = (".txt", ".lst", ".list", ".scp")


def expand_inputs(inputs: list[str], extensions: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    """(path, name relative to its input root) for files, folders searched recursively, and file lists."""
    for item in inputs:
        if os.path.isdir(item):
            for root, _dirs, files in sorted(os.walk(item)):
                for name in sorted(files):
                    if name.lower().endswith(extensions):
                        path = os.path.join(root, name)
                        yield path, os.path.relpath(path, item)
        elif item.lower().endswith(LIST_EXTENSIONS):
            with open(item) as f:
                for line in f:
                    path = line.strip().split("|")[0]
                    if path:
                        yield path, os.path.basename(path)
        else:
            yield item, os.path.basename(item)


def audio_length(path: str) -> tuple[int, int]:
    """(samples, sample rate) from the file's header, without decoding it; ValueError as `read_audio`."""
    try:
        info = sf.info(path)
    except Exception as e:  # soundfile raises several types for damaged files
        raise ValueError(f"cannot read audio ({e})") from None
    if info.frames <= 0:
        raise ValueError("the file holds no samples")
    return info.frames, info.samplerate


def read_audio(path: str) -> tuple[np.ndarray, int]:
    """Mono float32 samples and the sample rate; ValueError with the reason for unreadable or empty files."""
    try:
        wav, rate = sf.read(path, dtype="float32", always_2d=True)
    except Exception as e:  # soundfile raises several types for damaged files
        raise ValueError(f"cannot read audio ({e})") from None
    if wav.size == 0:
        raise ValueError("the file holds no samples")
    return wav.mean(axis=1), rate


def write_atomic(path: str, write: Callable[[str], None]) -> None:
    """Call `write(tmp)` on a temporary file beside `path`, then rename it into place.

    The temporary file is hidden (`.partial-*`), so an output path exists only once complete.
    """
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", prefix=".partial-", suffix=os.path.splitext(path)[1])
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
