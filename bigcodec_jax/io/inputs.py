"""Inputs and outputs, local or in object stores (`paths.py`): expanding folders and file lists into files, output
checks, atomic writes.

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

import os
import secrets
from typing import Callable, Iterable, Iterator

from bigcodec_jax import paths
from bigcodec_jax.errors import UsageError

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


def check_no_overwrite(pairs: Iterable[tuple[str, str]]) -> None:
    """UsageError when an output path (second of each pair) is, or resolves to, any input path (first).

    Paths are compared after resolving symbolic links, so an output folder that is a link to the
    input folder is caught too.
    """
    pairs = list(pairs)
    inputs = {paths.resolve(source): source for source, _ in pairs}
    clashes = [(inputs[paths.resolve(out)], out) for _, out in pairs if paths.resolve(out) in inputs]
    if clashes:
        source, out = clashes[0]
        more = f" (and {len(clashes) - 1} more)" if len(clashes) > 1 else ""
        raise UsageError(f"the output {out} would overwrite the input {source}{more}; choose another --output")


def prepare_output_dir(path: str, flag: str = "--output") -> None:
    """Create the output folder `path` if needed and check that files can be created in it (UsageError
    otherwise), so that an unusable output is found before any work rather than after it. For a URL an empty
    object is written and deleted (a missing bucket or no permission shows here)."""
    try:
        if paths.isfile(path):
            raise UsageError(f"{flag} {path} is a file, not a folder")
        paths.makedirs(path)
        probe = paths.join(path, f".write-test-{secrets.token_hex(4)}")
        if paths.is_remote(path):
            paths.write_bytes(probe, b"")
        else:
            os.close(os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        paths.remove(probe)
    except UsageError:
        raise
    except Exception as e:  # OSError locally (an unreachable store too); fsspec stores raise their own types
        raise UsageError(f"{flag} {path} cannot be written ({getattr(e, 'strerror', None) or e})") from None


def write_atomic(path: str, write: Callable[[str], None]) -> None:
    """Call `write(tmp)` on a local temporary file, then rename it to `path` or upload it to the URL `path`
    (`paths.staged_file`): an output exists only once complete, with the permissions the user's umask gives."""
    with paths.staged_file(path) as tmp:
        write(tmp)
