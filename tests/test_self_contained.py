"""A clone of the repository alone (no public golden data beside it) tests instead of erroring.

Running the whole suite a second time without the public data would double CI's time, so this proves it
in parts: every golden file is read through `conftest.reference_path` (checked here), which serves the
committed set from `tests/golden/` and skips a test when a public file is missing (checked here); and a
pytest run with the public folder pointed at an empty directory collects every test module and reports
each test of a public set as skipped with the reason, while committed-set tests pass there too.
"""
import os
import re
import subprocess
import sys

import pytest

import conftest
from conftest import COMMITTED_SET, TESTS_DIR, reference_path

PUBLIC_SETS = ("official_debug", "mini_default", "tiny_train")
# Tests that read a public set without its name in their id: test_api's fixtures, and two single tests.
PUBLIC_READERS = ("test_api", "golden_released_topology", "(test_inference_batch and bfloat16)")
QUICK_COMMITTED = ("test_torch_zip", "test_activations")  # modules that read the committed set, in seconds
COMMITTED_FILES = ("manifest.json", *(COMMITTED_SET + s for s in (".json", ".pt", ".npz", "_train.npz",
                                                                  "_lightning.ckpt")))


def test_committed_set_is_complete_and_read_from_the_repository(monkeypatch, tmp_path):
    monkeypatch.setattr(conftest, "REFERENCE_DIR", str(tmp_path))  # an empty public folder
    for name in COMMITTED_FILES:
        assert reference_path(name) == os.path.join(TESTS_DIR, "golden", name)
        assert os.path.getsize(reference_path(name)) > 1000


def test_a_missing_public_file_skips_with_the_reason(monkeypatch, tmp_path):
    monkeypatch.setattr(conftest, "REFERENCE_DIR", str(tmp_path))
    with pytest.raises(pytest.skip.Exception, match=f"public golden file tiny_train.pt is not in {tmp_path}"):
        reference_path("tiny_train.pt")


def test_a_missing_committed_file_is_an_error_not_a_skip(monkeypatch, tmp_path):
    monkeypatch.setattr(conftest, "GOLDEN_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="make_golden.py"):
        reference_path(COMMITTED_SET + ".pt")


def test_tests_read_golden_data_only_through_reference_path():
    """No test module looks for the public folder itself (it would error, not skip, in a clone)."""
    for name in sorted(os.listdir(TESTS_DIR)):
        if name.endswith(".py") and name not in ("conftest.py", os.path.basename(__file__)):
            with open(os.path.join(TESTS_DIR, name)) as f:
                source = f.read()
            assert not re.search(r"BIGCODEC_REFERENCE_DIR|REFERENCE_DIR|shared[/\\]reference|\.\./shared", source), name


def test_suite_without_public_data_skips_instead_of_erroring(tmp_path):
    """Collects the whole suite with an empty public folder, runs every test of a public set (they must all
    skip, naming the missing file) and quick committed-set tests (they must pass)."""
    env = dict(os.environ, BIGCODEC_REFERENCE_DIR=str(tmp_path), JAX_PLATFORMS="cpu")
    public = " or ".join(PUBLIC_SETS + PUBLIC_READERS)
    select = f"({public}) and not {COMMITTED_SET} and not random_codec or " + " or ".join(QUICK_COMMITTED)
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "-k", select,
                          TESTS_DIR], cwd=os.path.dirname(TESTS_DIR), env=env, capture_output=True, text=True,
                         timeout=600)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-3000:]  # collection errors, failures or errors give another code
    summary = out.strip().splitlines()[-1]
    counts = {word: int(n) for n, word in re.findall(r"(\d+) (passed|skipped|deselected|failed|error)", summary)}
    assert counts.get("skipped", 0) >= 40 and counts.get("passed", 0) >= 20, summary
    assert "failed" not in counts and "error" not in counts, summary
    reasons = [line for line in out.splitlines() if line.startswith("SKIPPED")]
    assert reasons and all("public golden file" in line and str(tmp_path) in line for line in reasons), reasons
