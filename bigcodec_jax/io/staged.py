"""Staged writes: every output, local or in an object store, appears whole or not at all.

An output is written to a local file and then renamed into place (local: a hidden `.partial-*` file beside
it, which `paths.list_files` leaves out) or uploaded as one object (URL: from a temporary folder), because
object stores cannot rename or append. A reader never sees half an output, and nothing is appended to in place.
"""
from __future__ import annotations

import builtins
import contextlib
import os
import shutil
import tempfile
from typing import Iterator

from bigcodec_jax.io import paths


def new_partial_file(folder: str, suffix: str) -> str:
    """Create an empty hidden file in `folder` with the permissions of the user's umask (mkstemp's are 0600)."""
    while True:
        path = os.path.join(folder, f".partial-{os.urandom(6).hex()}{suffix}")
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
            return path
        except FileExistsError:
            continue


@contextlib.contextmanager
def staged_file(path: str | os.PathLike) -> Iterator[str]:
    """A local file name to write the output `path` to; when the block ends without an error it is renamed to
    `path` (a hidden `.partial-*` file beside it) or uploaded to the URL `path` (from a temporary folder).
    On an error nothing appears at `path`. The local name keeps `path`'s extension (soundfile needs it)."""
    path = os.fspath(path)
    suffix = os.path.splitext(paths.name(path))[1]
    if paths.is_remote(path):
        with tempfile.TemporaryDirectory(prefix="bigcodec-") as tmp:
            local = os.path.join(tmp, f"output{suffix}")
            yield local
            upload(local, path)
        return
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    local = new_partial_file(folder, suffix)
    try:
        yield local
        os.replace(local, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(local)
        raise


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` whole or not at all (`staged_file`)."""
    with staged_file(path) as local, builtins.open(local, "wb") as f:
        f.write(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` (UTF-8) to `path` whole or not at all (`staged_file`)."""
    write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def staged_folder(path: str | os.PathLike, last: tuple[str, ...] = ()) -> Iterator[str]:
    """A local folder to write the outputs of the folder `path` into: `path` itself when local (created), else a
    temporary folder whose files are uploaded to the URL `path` when the block ends without an error, each
    whole, those named in `last` (relative names, e.g. the page that links the others) after the rest."""
    path = os.fspath(path)
    if not paths.is_remote(path):
        os.makedirs(path, exist_ok=True)
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="bigcodec-") as tmp:
        yield tmp
        files = paths.list_files(tmp)
        for local, relative in sorted(files, key=lambda item: item[1] in last):
            upload(local, paths.join(path, relative))


def upload(local: str, path: str | os.PathLike) -> None:
    """Copy the local file `local` to `path`: moved into place locally (rename), uploaded as one object to a
    URL; either way `path` holds the whole file or its previous content, never a part."""
    path = os.fspath(path)
    if not paths.is_remote(path):
        with staged_file(path) as staged:
            shutil.copyfile(local, staged)
        return
    fs, inner = paths.store(path)
    fs.put_file(local, inner)
