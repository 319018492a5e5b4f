"""Inputs and outputs on disk: expanding folders and file lists into files, output checks, atomic writes."""
from __future__ import annotations

import os
import secrets
from typing import Callable, Iterable, Iterator

from bigcodec_jax.errors import UsageError

LIST_EXTENSIONS = (".txt", ".lst", ".list", ".scp")


def is_inside(path: str, folder: str) -> bool:
    """Whether `path` is `folder` or lies inside it (both absolute and resolved)."""
    return os.path.commonpath([path, folder]) == folder


def expand_inputs(inputs: list[str], extensions: tuple[str, ...], skip: str | None = None
                  ) -> Iterator[tuple[str, str]]:
    """(path, name relative to its input root) for files, folders searched recursively, and file lists.

    Files under the folder `skip` (the output folder) are not taken from an input folder it lies inside
    of, so a rerun does not read its own outputs back as inputs.
    """
    skip = os.path.realpath(skip) if skip else None
    for item in inputs:
        if os.path.isdir(item):
            below = skip if skip and skip != os.path.realpath(item) else None
            for root, _dirs, files in sorted(os.walk(item)):
                if below and is_inside(os.path.realpath(root), below):
                    continue
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


def check_inputs_exist(inputs: Iterable[str]) -> None:
    """UsageError naming the first command-line input that does not exist."""
    for item in inputs:
        if not os.path.exists(item):
            raise UsageError(f"{item}: no such file or folder")


def check_no_overwrite(pairs: Iterable[tuple[str, str]]) -> None:
    """UsageError when an output path (second of each pair) is, or resolves to, any input path (first).

    Paths are compared after resolving symbolic links, so an output folder that is a link to the
    input folder is caught too.
    """
    pairs = list(pairs)
    inputs = {os.path.realpath(source): source for source, _ in pairs}
    clashes = [(inputs[os.path.realpath(out)], out) for _, out in pairs if os.path.realpath(out) in inputs]
    if clashes:
        source, out = clashes[0]
        more = f" (and {len(clashes) - 1} more)" if len(clashes) > 1 else ""
        raise UsageError(f"the output {out} would overwrite the input {source}{more}; choose another --output")


def prepare_output_dir(path: str, flag: str = "--output") -> None:
    """Create the output folder `path` if needed and check that files can be created in it (UsageError
    otherwise), so that an unusable output is found before any work rather than after it."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise UsageError(f"{flag} {path} is a file, not a folder")
    try:
        os.makedirs(path, exist_ok=True)
        probe = os.path.join(path, f".write-test-{secrets.token_hex(4)}")
        os.close(os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        os.unlink(probe)
    except OSError as e:
        raise UsageError(f"{flag} {path} cannot be written ({e.strerror or e})") from None


def _new_hidden_file(folder: str, suffix: str) -> str:
    """Create an empty hidden file in `folder` with the permissions of the user's umask (mkstemp's are 0600)."""
    while True:
        path = os.path.join(folder, f".partial-{secrets.token_hex(6)}{suffix}")
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
            return path
        except FileExistsError:
            continue


def write_atomic(path: str, write: Callable[[str], None]) -> None:
    """Call `write(tmp)` on a temporary file beside `path`, then rename it into place.

    The temporary file is hidden (`.partial-*`), so an output path exists only once complete; the
    file gets the permissions the user's umask gives, as a plainly written file would.
    """
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    tmp = _new_hidden_file(folder, os.path.splitext(path)[1])
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_text_atomic(path: str, text: str) -> None:
    """Write `text` to `path` atomically (see `write_atomic`)."""
    def write(tmp: str) -> None:
        with open(tmp, "w") as f:
            f.write(text)

    write_atomic(path, write)
