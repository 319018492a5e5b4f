"""Random-access audio sources: audio files (a folder, a file list, the packaged corpus) or a tfds dataset.

`open_source` turns the config's `source`/`path`/`split` into an `AudioSource`; every config
mistake is a ValueError naming the key, raised here at start-up rather than mid-run. Folders, file
lists and the files they name may be local or URLs such as gs://bucket/librispeech (`paths.py`).
"""
from __future__ import annotations

from typing import Protocol, Sequence

import numpy as np

from bigcodec_jax.data.corpus import corpus_dir
from bigcodec_jax.data.decode import read_file, read_file_crop
from bigcodec_jax.io import paths
from bigcodec_jax.io.audio_files import AUDIO_EXTENSIONS
from bigcodec_jax.io.inputs import LIST_EXTENSIONS, expand_inputs

SOURCE_KINDS = "'corpus', 'dir', 'list' or 'tfds:<dataset name>'"


class AudioSource(Protocol):
    """Utterances by index: picklable, so grain worker processes can read them too."""

    def __len__(self) -> int: ...

    def name(self, index: int) -> str: ...

    def read(self, index: int) -> np.ndarray:
        """The whole utterance, float32 16 kHz mono; ValueError with the reason if it is unreadable."""

    def read_crop(self, index: int, segment: int, rng: np.random.Generator) -> np.ndarray:
        """A `segment`-sample float32 16 kHz crop at a position drawn from `rng` (zero-padded if shorter)."""


class FileSource:
    """A fixed list of audio files."""

    def __init__(self, paths: Sequence[str], names: Sequence[str]):
        self.paths, self.names = list(paths), list(names)

    def __len__(self) -> int:
        return len(self.paths)

    def name(self, index: int) -> str:
        return self.names[index]

    def read(self, index: int) -> np.ndarray:
        return read_file(self.paths[index])

    def read_crop(self, index: int, segment: int, rng: np.random.Generator) -> np.ndarray:
        return read_file_crop(self.paths[index], segment, rng)


def folder_source(path: str, key: str) -> FileSource:
    """Every audio file under `path`, searched recursively, in sorted order."""
    if not paths.isdir(path):
        raise ValueError(f"{key}: {path!r} is not a folder")
    found = list(expand_inputs([path], AUDIO_EXTENSIONS))
    if not found:
        raise ValueError(f"{key}: no audio files ({', '.join(AUDIO_EXTENSIONS)}) under {path!r}")
    return FileSource(*zip(*found))


def list_source(path: str, key: str) -> FileSource:
    """The files named in a file list (its rules: `io/inputs.py`; relative paths are relative to the list's folder)."""
    if not paths.isfile(path):
        raise ValueError(f"{key}: file list {path!r} does not exist")
    if not path.lower().endswith(LIST_EXTENSIONS):
        raise ValueError(f"{key}: {path!r} is not a file list (expected one of {', '.join(LIST_EXTENSIONS)})")
    found = list(expand_inputs([path], AUDIO_EXTENSIONS))
    if not found:
        raise ValueError(f"{key}: file list {path!r} names no files")
    return FileSource(*zip(*found))


def open_source(source: str, path: str, split: str, tfds_data_dir: str | None, corpus_list: str,
                key: str) -> AudioSource:
    """The source a config names; `key` ("data" or "data.eval") prefixes error messages, `corpus_list` picks
    the packaged corpus's part (train or held-out)."""
    if source == "corpus":
        return list_source(paths.join(corpus_dir(), corpus_list), f"{key}.source='corpus'")
    if source == "dir":
        return folder_source(path, f"{key}.path")
    if source == "list":
        return list_source(path, f"{key}.path")
    if source.startswith("tfds:") and len(source) > len("tfds:"):
        from bigcodec_jax.data.tfds_source import TfdsSource  # tensorflow-datasets is an optional extra

        return TfdsSource(source[len("tfds:"):], split, tfds_data_dir, key)
    raise ValueError(f"{key}.source: unknown source {source!r}; use {SOURCE_KINDS}")
