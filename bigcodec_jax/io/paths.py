"""Every user path, on a local disk or in an object store, through one set of functions.

A path is a local file name or any fsspec URL: `gs://bucket/run` (gcsfs, `pip install
'bigcodec-jax[gcs]'`), `s3://...`, `memory://...`. Workdirs, data, checkpoints, inputs and outputs
are opened, listed and written only through this module. Local paths go straight to `os` and
`open`, so nothing remote is imported unless a URL is used.

Object stores have no folders and no rename: a "folder" is a prefix that exists once an object lies
under it, and an object appears whole when its upload completes. So outputs are written to a local
file and then moved (local) or uploaded (remote) into place (`staged_file`, `staged_folder`); a
reader never sees half an output, and nothing is appended to in place.

Readers that want local files (ArrayRecord's random access, for codes shards) get `cached_copies`: remote files
downloaded once into a cache folder (`$BIGCODEC_CACHE_DIR`, default `~/.cache/bigcodec-jax`) and checked
against the object's size and MD5 every time they are used.

Against a local GCS emulator (the tests, or to try things out): `STORAGE_EMULATOR_HOST=http://HOST:PORT`
for gcsfs, and for Orbax's arrays (TensorStore) `TENSORSTORE_GCS_HTTP_URL=http://HOST:PORT` with
`GOOGLE_AUTH_TOKEN_FOR_TESTING=dummy`.
"""
from __future__ import annotations

import base64
import builtins
import contextlib
import hashlib
import io
import json
import os
import posixpath
import re
import shutil
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any, Callable, Iterator, Sequence

import tqdm

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


def _fs(path: str):
    """(the fsspec filesystem of URL `path`, as a `_Store`; the path as that filesystem names it)."""
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
    fs, inner = _fs(path)
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
    blocks (seeking is cheap); one opened for writing is uploaded when it is closed. Prefer `staged_file`
    for outputs, which never leaves half a file behind."""
    path = os.fspath(path)
    if not is_remote(path):
        return builtins.open(path, mode, **kwargs)
    fs, inner = _fs(path)
    return fs.open(inner, mode, **kwargs)


def read_bytes(path: str | os.PathLike) -> bytes:
    """The whole file (for URLs: one request)."""
    path = os.fspath(path)
    if not is_remote(path):
        with builtins.open(path, "rb") as f:
            return f.read()
    fs, inner = _fs(path)
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
    fs, inner = _fs(folder)
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
    fs, inner = _fs(folder)
    return sorted(posixpath.basename(p.rstrip("/")) for p in fs.ls(inner, detail=False) if p.rstrip("/") != inner.rstrip("/"))


def remove(path: str | os.PathLike) -> None:
    """Delete a file (a missing one is fine)."""
    path = os.fspath(path)
    if not is_remote(path):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        return
    fs, inner = _fs(path)
    with contextlib.suppress(FileNotFoundError):
        fs.rm_file(inner)


def remove_folder(path: str | os.PathLike) -> None:
    """Delete a folder and everything below it (a missing one is fine)."""
    path = os.fspath(path)
    if not is_remote(path):
        shutil.rmtree(path, ignore_errors=True)
        return
    fs, inner = _fs(path)
    with contextlib.suppress(FileNotFoundError):
        fs.rm(inner.rstrip("/"), recursive=True)


def upload(local: str, path: str | os.PathLike) -> None:
    """Copy the local file `local` to `path`: moved into place locally (rename), uploaded as one object to a
    URL; either way `path` holds the whole file or its previous content, never a part."""
    path = os.fspath(path)
    if not is_remote(path):
        with staged_file(path) as staged:
            shutil.copyfile(local, staged)
        return
    fs, inner = _fs(path)
    fs.put_file(local, inner)


@contextlib.contextmanager
def local_copy(path: str | os.PathLike) -> Iterator[str]:
    """A local file name for `path`, for readers that need one (zip archives, safetensors): the path itself,
    or a temporary download of the remote file, deleted afterwards."""
    path = os.fspath(path)
    if not is_remote(path):
        yield path
        return
    fs, inner = _fs(path)
    with tempfile.TemporaryDirectory(prefix="bigcodec-") as tmp:
        local = os.path.join(tmp, name(path) or "file")
        fs.get_file(inner, local)
        yield local


CACHE_ENV = "BIGCODEC_CACHE_DIR"
# What tells an object's versions apart, the first kind a store gives: GCS's generation (its etag and `updated`
# change with metadata too), else an ETag, else a modification time.
_VERSION_KEYS = (("generation",), ("ETag", "etag"), ("LastModified", "mtime", "created"))


def cache_dir() -> str:
    """Where `cached_copies` keeps local copies of remote files: `$BIGCODEC_CACHE_DIR`, else
    `$XDG_CACHE_HOME/bigcodec-jax`, else `~/.cache/bigcodec-jax`."""
    user_cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.environ.get(CACHE_ENV) or os.path.join(user_cache, "bigcodec-jax")


def _digest(text: str, size: int) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:size]


def _matches(local: str, info: dict[str, Any]) -> bool:
    """Whether the local file is the remote object described by `info` (an fsspec listing entry): the same size
    and, where the store gives an MD5 (GCS does, except for composite objects), the same MD5."""
    try:
        if os.path.getsize(local) != info["size"]:
            return False
        if "md5Hash" not in info:
            return True
        with builtins.open(local, "rb") as f:
            return base64.b64encode(hashlib.file_digest(f, "md5").digest()).decode() == info["md5Hash"]
    except FileNotFoundError:
        return False


def _cache_entry(path: str, info: dict[str, Any], root: str) -> str:
    """The local name of the version `info` of the remote file `path`: a folder per URL, a file per version
    (size, MD5 and generation, or what else the store gives)."""
    found: list[str] = []
    for keys in _VERSION_KEYS:
        found = [str(info[key]) for key in keys if key in info]
        if found:
            break
    version = json.dumps([info["size"], info.get("md5Hash"), *found])
    return os.path.join(root, "remote", _digest(path, 32), f"{_digest(version, 16)}-{name(path)}")


def _fetch(fs, inner: str, path: str, info: dict[str, Any], local: str) -> None:
    """Download `path` into the cache entry `local`: to a hidden file beside it, checked, then renamed into
    place (a crash leaves no file that `_matches` would take), replacing the URL's older versions."""
    folder = os.path.dirname(local)
    os.makedirs(folder, exist_ok=True)
    partial = _new_local_file(folder, "")
    try:
        fs.get_file(inner, partial)
        if not _matches(partial, info):
            raise OSError(f"{path}: the downloaded copy differs from the object (changed while downloading?); "
                          "run again")
        for old in os.listdir(folder):
            if not old.startswith(".") and old != os.path.basename(local):
                remove(os.path.join(folder, old))
        os.replace(partial, local)
    except BaseException:
        remove(partial)
        raise


def cached_copies(folder: str, names: Sequence[str], cache: str | None = None, workers: int = 8) -> list[str]:
    """Local file names with the content of the files `names` (relative, `/`-separated) in `folder`, for
    readers that want local files. Local files are used as they are. Remote ones are listed once and
    downloaded once into the cache folder `cache` (default `cache_dir()`), keyed by URL and version; a copy is
    used again while it matches the object (size and MD5, checked on every use), so a partial or corrupted copy
    is downloaded again rather than trusted. Says on stderr, in one line, what it downloads and where (with a
    progress bar over the files). FileNotFoundError names the files that are not there."""
    folder = os.fspath(folder)
    wanted = [join(folder, n) for n in names]
    if not is_remote(folder):
        missing = [p for p in wanted if not os.path.isfile(p)]
        if missing:
            raise FileNotFoundError(f"{len(missing)} of {len(names)} files missing (first: {missing[0]})")
        return wanted
    fs, inner = _fs(folder)
    inner = inner.rstrip("/")
    listing = {relative(p, inner): info for p, info in fs.find(inner, detail=True).items()}
    missing = [n for n in names if n not in listing]
    if missing:
        raise FileNotFoundError(f"{len(missing)} of {len(names)} files missing (first: {join(folder, missing[0])})")
    root = cache or cache_dir()
    entries = [_cache_entry(p, listing[n], root) for p, n in zip(wanted, names)]
    with ThreadPoolExecutor(workers, thread_name_prefix="cache") as pool:
        kept = list(pool.map(_matches, entries, [listing[n] for n in names]))
        todo = [i for i, ok in enumerate(kept) if not ok]
        if not todo:
            print(f"{folder}: using the cached copies of its {len(names)} files in {root} ({CACHE_ENV})",
                  file=sys.stderr)
            return entries
        size = sum(listing[names[i]]["size"] for i in todo)
        print(f"{folder}: downloading {len(todo)} of {len(names)} files ({size / 1e6:.1f} MB) into the cache "
              f"{root} ({CACHE_ENV})", file=sys.stderr)
        with tqdm.tqdm(total=len(todo), desc="download", unit="file", disable=len(todo) < 2) as bar:
            fetches = [pool.submit(_fetch, fs, posixpath.join(inner, names[i]), wanted[i], listing[names[i]],
                                   entries[i]) for i in todo]
            for fetch in fetches:
                fetch.result()
                bar.update()
    return entries


def _new_local_file(folder: str, suffix: str) -> str:
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
    suffix = os.path.splitext(name(path))[1]
    if is_remote(path):
        with tempfile.TemporaryDirectory(prefix="bigcodec-") as tmp:
            local = os.path.join(tmp, f"output{suffix}")
            yield local
            upload(local, path)
        return
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    local = _new_local_file(folder, suffix)
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
    if not is_remote(path):
        os.makedirs(path, exist_ok=True)
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="bigcodec-") as tmp:
        yield tmp
        files = list_files(tmp)
        for local, relative in sorted(files, key=lambda item: item[1] in last):
            upload(local, join(path, relative))


class SyncedFolder:
    """A local folder of files that grow (logs), kept in step with the folder `path`: `path` itself when local;
    for a URL a temporary folder whose new or changed files `sync()` uploads, each whole (object stores cannot
    append, so a growing file is uploaded again in full; readers see the last synced version). `close()` syncs
    a last time and removes the temporary folder."""

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        self._synced: dict[str, tuple[int, int]] = {}
        if is_remote(self.path):
            self.local = tempfile.mkdtemp(prefix="bigcodec-")
        else:
            os.makedirs(self.path, exist_ok=True)
            self.local = self.path

    def download(self, relative: str) -> str:
        """The local name of the file `relative` in the folder, with the content it has at `path` (if any), so
        that it can be appended to; for a local folder just its name."""
        local = os.path.join(self.local, relative)
        if self.local != self.path and not os.path.exists(local) and exists(join(self.path, relative)):
            os.makedirs(os.path.dirname(local), exist_ok=True)
            with builtins.open(local, "wb") as f:
                f.write(read_bytes(join(self.path, relative)))
            self._synced[relative] = self._version(local)
        return local

    @staticmethod
    def _version(local: str) -> tuple[int, int]:
        stat = os.stat(local)
        return stat.st_size, stat.st_mtime_ns

    def sync(self) -> None:
        """Upload every file that is new or changed since the last sync (nothing to do for a local folder)."""
        if self.local == self.path:
            return
        for local, relative in list_files(self.local):
            version = self._version(local)
            if self._synced.get(relative) != version:
                upload(local, join(self.path, relative))
                self._synced[relative] = version

    def close(self) -> None:
        self.sync()
        if self.local != self.path:
            shutil.rmtree(self.local, ignore_errors=True)
