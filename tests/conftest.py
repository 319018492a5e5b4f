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
