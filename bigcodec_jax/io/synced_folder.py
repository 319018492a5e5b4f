"""A folder of growing files (training logs) kept in step with a workdir that may be in an object store."""
from __future__ import annotations

import builtins
import os
import shutil
import tempfile

from bigcodec_jax.io import paths, staged


class SyncedFolder:
    """A local folder of files that grow (logs), kept in step with the folder `path`: `path` itself when local;
    for a URL a temporary folder whose new or changed files `sync()` uploads, each whole (object stores cannot
    append, so a growing file is uploaded again in full; readers see the last synced version). `close()` syncs
    a last time and removes the temporary folder."""

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        self._synced: dict[str, tuple[int, int]] = {}
        if paths.is_remote(self.path):
            self.local = tempfile.mkdtemp(prefix="bigcodec-")
        else:
            os.makedirs(self.path, exist_ok=True)
            self.local = self.path

    def download(self, relative: str) -> str:
        """The local name of the file `relative` in the folder, with the content it has at `path` (if any), so
        that it can be appended to; for a local folder just its name."""
        local = os.path.join(self.local, relative)
        if self.local != self.path and not os.path.exists(local) and paths.exists(paths.join(self.path, relative)):
            os.makedirs(os.path.dirname(local), exist_ok=True)
            with builtins.open(local, "wb") as f:
                f.write(paths.read_bytes(paths.join(self.path, relative)))
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
        for local, relative in paths.list_files(self.local):
            version = self._version(local)
            if self._synced.get(relative) != version:
                staged.upload(local, paths.join(self.path, relative))
                self._synced[relative] = version

    def close(self) -> None:
        self.sync()
        if self.local != self.path:
            shutil.rmtree(self.local, ignore_errors=True)
