"""A local Google Cloud Storage emulator for the tests (`gcp-storage-emulator`, pure Python, in memory).

It listens on a free 127.0.0.1 port; `ENV` says how gcsfs (`STORAGE_EMULATOR_HOST`) and TensorStore
(`TENSORSTORE_GCS_HTTP_URL`, for Orbax's arrays) reach it, so the code under test runs as it would
against real GCS, in this process and in the subprocesses it starts.
"""
from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import time
import urllib.request

BUCKET = "bigcodec-test"


def available() -> bool:
    return importlib.util.find_spec("gcp_storage_emulator") is not None and importlib.util.find_spec("gcsfs") is not None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Emulator:
    """A running emulator with the bucket `BUCKET`; `stop()` ends it."""

    def __init__(self, timeout: float = 30.0):
        self.port = _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gcp_storage_emulator", "start", "--host=127.0.0.1", f"--port={self.port}",
             "--in-memory", f"--default-bucket={BUCKET}", "--quiet"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(self.endpoint, timeout=1).read()
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
