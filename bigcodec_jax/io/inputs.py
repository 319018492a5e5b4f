"""Inputs, local or in object stores (`paths.py`): folders and file lists expanded into files, and the check
that every command-line input exists.

A file list (a file named *.txt, *.lst, *.list or *.scp, wherever inputs or a data path may be a list) names
one file per line:
- text after the first `|` is ignored (the official preprocessing's `path|transcript` lines);
- blank lines, and lines whose first character other than a space is `#`, are comments;
- a relative path is relative to the folder of the list, not to the working directory (a list at
  gs://b/lists/train.txt naming `wavs/x.flac` means gs://b/lists/wavs/x.flac); absolute paths and URLs
  are taken as they are. (To name a file whose name starts with `#`, write `./#name`.)
A listed file that does not exist is reported, by the command that reads it, as `PATH: no such file`.
"""
from __future__ import annotations

from typing import Iterable, Iterator

from bigcodec_jax.errors import UsageError
from bigcodec_jax.io import paths

LIST_EXTENSIONS = (".txt", ".lst", ".list", ".scp")


def expand_inputs(inputs: list[str], extensions: tuple[str, ...], skip: str | None = None
                  ) -> Iterator[tuple[str, str]]:
    """(path, name relative to its input root) for files, folders searched recursively (a folder's files before its
    subfolders; hidden ones, such as partial outputs, left out), and file lists.

    Files under the folder `skip` (the output folder) are not taken from an input folder it lies inside
    of, so a rerun does not read its own outputs back as inputs.
    """
    skip = paths.resolve(skip) if skip else None
    for item in inputs:
        if paths.isdir(item):
            root = paths.resolve(item)
            below = paths.relative(skip, root) if skip and skip != root and paths.is_inside(skip, root) else None
            for path, relative in paths.list_files(item):
                if below and paths.is_inside(relative, below):
                    continue
                if relative.lower().endswith(extensions):
                    yield path, relative
        elif item.lower().endswith(LIST_EXTENSIONS):
            for path in read_file_list(item):
                yield path, paths.name(path)
        else:
            yield item, paths.name(item)


def read_file_list(path: str) -> list[str]:
    """The files the file list `path` names, relative ones joined to its folder (the rules in the module's
    docstring)."""
    root = paths.parent(path)
    listed = []
    for line in paths.read_text(path).splitlines():
        entry = line.split("|")[0].strip()
        if entry and not entry.startswith("#"):
            listed.append(entry if paths.is_absolute(entry) else paths.join(root, entry))
    return listed


def check_inputs_exist(inputs: Iterable[str]) -> None:
    """UsageError naming the first command-line input that does not exist."""
    for item in inputs:
        if not paths.exists(item):
            raise UsageError(f"{item}: no such file or folder")
