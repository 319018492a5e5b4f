"""A checked download cache: local copies of remote files, for readers that want local files.

`local_copy` gives one file's local name for a single read (a zip archive, safetensors). ArrayRecord's random access (codes shards) needs local files: `cached_copies` downloads remote files once into
a cache folder (`$BIGCODEC_CACHE_DIR`, default `~/.cache/bigcodec-jax`) and checks them against the object's
size and MD5 every time they are used.
"""
from __future__ import annotations

import base64
import builtins
import contextlib
import hashlib
import json
import os
import posixpath
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator, Sequence

import tqdm

from bigcodec_jax.io import paths, staged


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
    return os.path.join(root, "remote", _digest(path, 32), f"{_digest(version, 16)}-{paths.name(path)}")


def _fetch(fs, inner: str, path: str, info: dict[str, Any], local: str) -> None:
    """Download `path` into the cache entry `local`: to a hidden file beside it, checked, then renamed into
    place (a crash leaves no file that `_matches` would take), replacing the URL's older versions."""
    folder = os.path.dirname(local)
    os.makedirs(folder, exist_ok=True)
    partial = staged.new_partial_file(folder, "")
    try:
        fs.get_file(inner, partial)
        if not _matches(partial, info):
            raise OSError(f"{path}: the downloaded copy differs from the object (changed while downloading?); "
                          "run again")
        for old in os.listdir(folder):
            if not old.startswith(".") and old != os.path.basename(local):
                paths.remove(os.path.join(folder, old))
        os.replace(partial, local)
    except BaseException:
        paths.remove(partial)
        raise


def cached_copies(folder: str, names: Sequence[str], cache: str | None = None, workers: int = 8) -> list[str]:
    """Local file names with the content of the files `names` (relative, `/`-separated) in `folder`, for
    readers that want local files. Local files are used as they are. Remote ones are listed once and
    downloaded once into the cache folder `cache` (default `cache_dir()`), keyed by URL and version; a copy is
    used again while it matches the object (size and MD5, checked on every use), so a partial or corrupted copy
    is downloaded again rather than trusted. Says on stderr, in one line, what it downloads and where (with a
    progress bar over the files). FileNotFoundError names the files that are not there."""
    folder = os.fspath(folder)
    wanted = [paths.join(folder, n) for n in names]
    if not paths.is_remote(folder):
        missing = [p for p in wanted if not os.path.isfile(p)]
        if missing:
            raise FileNotFoundError(f"{len(missing)} of {len(names)} files missing (first: {missing[0]})")
        return wanted
    fs, inner = paths.store(folder)
    inner = inner.rstrip("/")
    listing = {paths.relative(p, inner): info for p, info in fs.find(inner, detail=True).items()}
    missing = [n for n in names if n not in listing]
    if missing:
        raise FileNotFoundError(f"{len(missing)} of {len(names)} files missing "
                                f"(first: {paths.join(folder, missing[0])})")
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


@contextlib.contextmanager
def local_copy(path: str | os.PathLike) -> Iterator[str]:
    """A local file name for `path`, for readers that need one (zip archives, safetensors): the path itself,
    or a temporary download of the remote file, deleted afterwards."""
    path = os.fspath(path)
    if not paths.is_remote(path):
        yield path
        return
    fs, inner = paths.store(path)
    with tempfile.TemporaryDirectory(prefix="bigcodec-") as tmp:
        local = os.path.join(tmp, paths.name(path) or "file")
        fs.get_file(inner, local)
        yield local
