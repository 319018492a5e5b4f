"""Inputs and outputs on disk: expanding folders and file lists into files, and atomic writes."""
from __future__ import annotations

import os
import tempfile
from typing import Callable, Iterator

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
