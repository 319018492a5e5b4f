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


def relative_error(got, want) -> float:
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, f"shape {got.shape} != {want.shape}"
    return float(np.abs(got - want).max() / np.abs(want).max())


@pytest.fixture(scope="session")
def reference():
    return reference_path
