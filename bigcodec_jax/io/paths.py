"""Every user path, on a local disk or in an object store, through one set of functions.

A path is a local file name or any fsspec URL: `gs://bucket/run` (gcsfs, `pip install
'bigcodec-jax[gcs]'`), `s3://...`, `memory://...`. Workdirs, data, checkpoints, inputs and outputs
are opened, listed and written only through this package (`bigcodec_jax.io`). Local paths go straight to `os`
and `open`, so nothing remote is imported unless a URL is used.

Object stores have no folders and no rename: a "folder" is a prefix that exists once an object lies under it,
and an object appears whole when its upload completes. So outputs are written through `staged.py` (a local
file, then moved or uploaded into place), and readers that want local files get them from `download_cache.py`.

Against a local GCS emulator (the tests, or to try things out): `STORAGE_EMULATOR_HOST=http://HOST:PORT`
for gcsfs, and for Orbax's arrays (TensorStore) `TENSORSTORE_GCS_HTTP_URL=http://HOST:PORT` with
`GOOGLE_AUTH_TOKEN_FOR_TESTING=dummy`.
"""
from __future__ import annotations

import builtins
import contextlib
import io
import os
import posixpath
import re
import shutil
from typing import IO, Any, Callable

_URL = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")
_PACKAGES = {"gs": "gcsfs", "gcs": "gcsfs", "s3": "s3fs"}


def is_remote(path: str | os.PathLike) -> bool:
    """Whether `path` is a URL (`scheme://...`) rather than a local file name."""
    return bool(_URL.match(os.fspath(path)))


def _prepare_gcs_emulator() -> None:
    """gcsfs asks a gRPC endpoint for each bucket's type, which a GCS emulator does not serve (each call then
    waits 60 s); with `STORAGE_EMULATOR_HOST` set, turn that detection off before gcsfs is imported."""
    if os.environ.get("STORAGE_EMULATOR_HOST"):
        os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")


def _filesystem(protocol: str):
    """fsspec's filesystem of `protocol` (fsspec keeps one instance per process and arguments)."""
    import fsspec

    _prepare_gcs_emulator()
    try:  # no listing cache: other processes (and TensorStore) write into the same prefixes
        return fsspec.filesystem(protocol, use_listings_cache=False)
    except ImportError:
        package = _PACKAGES.get(protocol, f"the fsspec implementation of {protocol}://")
        extra = " (pip install 'bigcodec-jax[gcs]')" if package == "gcsfs" else ""
        raise ImportError(f"{protocol}:// paths need {package}{extra}") from None
    except ValueError as e:  # fsspec: unknown protocol
        raise ValueError(f"{protocol}:// paths are not supported ({e})") from None


# A question about one object or prefix (is it there, what is it) without an answer in this time is taken for an
# unreachable store: gcsfs retries a failed connection for about 35 s per request, and a command asks several.
# Listings, transfers and deletions can take longer and get no limit.
ANSWER_SECONDS = 20
_QUESTIONS = frozenset({"exists", "isfile", "isdir", "info"})
# What a store answers about the object itself, and its readers handle; anything else raised is about reaching it.
_ANSWERS = (FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError, PermissionError)


def _service_errors() -> tuple[type[BaseException], ...]:
    """The exceptions that mean the store could not be reached or refused us (network, credentials)."""
    found: list[type[BaseException]] = [OSError]  # aiohttp's connection errors, fsspec's timeout
    with contextlib.suppress(ImportError):
        from google.auth.exceptions import GoogleAuthError

        found.append(GoogleAuthError)
    with contextlib.suppress(ImportError):
        from gcsfs.retry import HttpError

        found.append(HttpError)
    return tuple(found)


class _Store:
    """An fsspec filesystem whose calls about the URL `url` raise `OSError("URL: why")` when the store cannot
    be reached or refuses, and whose questions (`_QUESTIONS`) get an answer within `ANSWER_SECONDS` or fail so."""

    def __init__(self, fs, url: str):
        self._fs, self._url = fs, url

    def __getattr__(self, name: str):
        method = getattr(self._fs, name)

        def call(*args, **kwargs):
            if name in _QUESTIONS and getattr(self._fs, "async_impl", False):  # fsspec's sync() takes a timeout
                kwargs.setdefault("timeout", ANSWER_SECONDS)
            try:
                return method(*args, **kwargs)
            except _ANSWERS:
                raise
            except _service_errors() as e:
                reason = (f"no answer from the storage service within {ANSWER_SECONDS} s; check the network and the "
                          "credentials") if isinstance(e, TimeoutError) else " ".join(str(e).split()) or type(e).__name__
                raise OSError(f"{self._url}: {reason}") from e

        return call


def store(path: str):
    """(the fsspec filesystem of URL `path`, as a `_Store`; the path as that filesystem names it), for this package's
    modules that move files to and from a store."""
    protocol = _URL.match(path).group(1).lower()
    fs = _filesystem(protocol)
    return _Store(fs, path), fs._strip_protocol(path)


def join(path: str | os.PathLike, *parts: str) -> str:
    """`path/part/...`: `os.path.join` for local paths, `/`-joined for URLs."""
    path = os.fspath(path)
    return posixpath.join(path, *parts) if is_remote(path) else os.path.join(path, *parts)


def parent(path: str | os.PathLike) -> str:
    """The folder of `path` (`os.path.dirname` for local paths; for URLs the prefix up to the last `/`)."""
    path = os.fspath(path)
    if not is_remote(path):
        return os.path.dirname(path)
    return posixpath.dirname(path.rstrip("/")) or path


def name(path: str | os.PathLike) -> str:
    """The last part of `path` (`os.path.basename`)."""
    path = os.fspath(path)
    return posixpath.basename(path.rstrip("/")) if is_remote(path) else os.path.basename(path)


def is_absolute(path: str | os.PathLike) -> bool:
    """Whether `path` is a URL or an absolute local path (not relative to the working directory)."""
    return is_remote(path) or os.path.isabs(path)


def absolute(path: str | os.PathLike) -> str:
    """A local path made absolute; a URL as it is (Orbax wants absolute paths)."""
    path = os.fspath(path)
    return path if is_remote(path) else os.path.abspath(path)


def resolve(path: str | os.PathLike) -> str:
    """A path to compare with others: local paths absolute with symbolic links resolved, URLs without a final `/`."""
    path = os.fspath(path)
    return path.rstrip("/") if is_remote(path) else os.path.realpath(path)


def is_inside(path: str, folder: str) -> bool:
    """Whether `path` is `folder` or lies inside it (both `resolve`d, or both relative with `/` separators)."""
    folder = folder.rstrip("/")
    return path.rstrip("/") == folder or path.startswith(folder + "/")


def relative(path: str, folder: str) -> str:
    """`path` relative to `folder`, which it lies inside (`is_inside`), with `/` separators."""
    return path.rstrip("/")[len(folder.rstrip("/")):].lstrip("/")


def _test(path: str | os.PathLike, local: Callable[[str], bool], remote: str) -> bool:
    """`local(path)` for a local path, else the fsspec filesystem's method named `remote`."""
    path = os.fspath(path)
    if not is_remote(path):
        return local(path)
    fs, inner = store(path)
    return getattr(fs, remote)(inner)


def exists(path: str | os.PathLike) -> bool:
    """Whether a file or folder (for URLs: an object, or a prefix with objects under it) is there."""
    return _test(path, os.path.exists, "exists")


def occupied(path: str | os.PathLike) -> bool:
    """Whether anything is at `path` that writing there would replace, a dangling symbolic link included."""
    return _test(path, os.path.lexists, "exists")


def isdir(path: str | os.PathLike) -> bool:
    """Whether `path` is a folder (for URLs: a prefix with objects under it, or a bucket)."""
    return _test(path, os.path.isdir, "isdir")


def isfile(path: str | os.PathLike) -> bool:
    """Whether `path` is a file (for URLs: an object)."""
    return _test(path, os.path.isfile, "isfile")


def makedirs(path: str | os.PathLike) -> None:
    """Create the folder `path` and its parents (a no-op on object stores, which have no folders)."""
    path = os.fspath(path)
    if not is_remote(path):
        os.makedirs(path, exist_ok=True)


def open_file(path: str | os.PathLike, mode: str = "rb", **kwargs: Any) -> IO:
    """The file at `path` opened as `open` does. A remote file opened for reading fetches what is read, in
    blocks (seeking is cheap); one opened for writing is uploaded when it is closed. Prefer
    `staged.staged_file` for outputs, which never leaves half a file behind."""
    path = os.fspath(path)
    if not is_remote(path):
        return builtins.open(path, mode, **kwargs)
    fs, inner = store(path)
    return fs.open(inner, mode, **kwargs)


def read_bytes(path: str | os.PathLike) -> bytes:
    """The whole file (for URLs: one request)."""
    path = os.fspath(path)
    if not is_remote(path):
        with builtins.open(path, "rb") as f:
            return f.read()
    fs, inner = store(path)
    return fs.cat_file(inner)


def read_text(path: str | os.PathLike) -> str:
    return read_bytes(path).decode("utf-8")


def readable(path: str | os.PathLike) -> str | io.BytesIO:
    """What a reader that takes a file name or a file object (soundfile, numpy) should get: a local path
    itself, or a remote file's bytes in memory, fetched in one request."""
    path = os.fspath(path)
    return io.BytesIO(read_bytes(path)) if is_remote(path) else path


def _walk_order(item: tuple[str, str]) -> tuple[str, str]:
    """Sort key of `list_files`: a folder's own files (by name) before its subfolders (by name), as `sorted(os.walk)`."""
    return posixpath.split(item[1])


def list_files(folder: str | os.PathLike) -> list[tuple[str, str]]:
    """(path, path relative to `folder` with `/` separators) of every file below `folder`, recursively: a folder's
    files by name, then its subfolders by name. Hidden files and folders (`.name`, e.g. partial outputs) are left
    out. For URLs this is one listing of the prefix."""
    folder = os.fspath(folder)
    if not is_remote(folder):
        found = []
        for root, dirs, files in os.walk(folder):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            for file in files:
                if not file.startswith("."):
                    path = os.path.join(root, file)
                    found.append((path, os.path.relpath(path, folder).replace(os.sep, "/")))
        return sorted(found, key=_walk_order)
    fs, inner = store(folder)
    inner = inner.rstrip("/")
    found = []
    for path in fs.find(inner):
        relative = path[len(inner):].lstrip("/")
        if relative and not any(part.startswith(".") for part in relative.split("/")):
            found.append((join(folder.rstrip("/"), relative), relative))
    return sorted(found, key=_walk_order)


def listdir(folder: str | os.PathLike) -> list[str]:
    """The names of the files and folders directly in `folder`, sorted."""
    folder = os.fspath(folder)
    if not is_remote(folder):
        return sorted(os.listdir(folder))
    fs, inner = store(folder)
    return sorted(posixpath.basename(p.rstrip("/")) for p in fs.ls(inner, detail=False) if p.rstrip("/") != inner.rstrip("/"))


def remove(path: str | os.PathLike) -> None:
    """Delete a file (a missing one is fine)."""
    path = os.fspath(path)
    if not is_remote(path):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        return
    fs, inner = store(path)
    with contextlib.suppress(FileNotFoundError):
        fs.rm_file(inner)


def remove_folder(path: str | os.PathLike) -> None:
    """Delete a folder and everything below it (a missing one is fine)."""
    path = os.fspath(path)
    if not is_remote(path):
        shutil.rmtree(path, ignore_errors=True)
        return
    fs, inner = store(path)
    with contextlib.suppress(FileNotFoundError):
        fs.rm(inner.rstrip("/"), recursive=True)
