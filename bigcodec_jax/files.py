"""Inputs and outputs, local or in object stores (`paths.py`): expanding folders and file lists into files, and
atomic writes."""
from __future__ import annotations

from typing import Callable, Iterator

from bigcodec_jax import paths

LIST_EXTENSIONS = (".txt", ".lst", ".list", ".scp")


def expand_inputs(inputs: list[str], extensions: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    """(path, name relative to its input root) for files, folders searched recursively (a folder's files before its
    subfolders; hidden ones, such as partial outputs, left out), and file lists."""
    for item in inputs:
        if paths.isdir(item):
            for path, relative in paths.list_files(item):
                if relative.lower().endswith(extensions):
                    yield path, relative
        elif item.lower().endswith(LIST_EXTENSIONS):
            for line in paths.read_text(item).splitlines():
                path = line.strip().split("|")[0]
                if path:
                    yield path, paths.name(path)
        else:
            yield item, paths.name(item)


def write_atomic(path: str, write: Callable[[str], None]) -> None:
    """Call `write(tmp)` on a local temporary file, then rename it to `path` or upload it to the URL `path`
    (`paths.staged_file`): an output exists only once complete."""
    with paths.staged_file(path) as tmp:
        write(tmp)
