"""The benchmark suite on CPU at tiny sizes: its JSON has every field, and the budget is honoured."""
import json
import subprocess
import sys
import time

import pytest

from bigcodec_jax.benchmark.suite import skip_reason

INFERENCE_FIELDS = {
    "dtype", "batch", "seconds", "status", "encode_s", "decode_s", "both_s", "encode_audio_per_s",
    "decode_audio_per_s", "both_audio_per_s", "runs", "compile_s", "peak_memory_gib", "peak_memory_kind",
    "compiled_memory_gib", "gflop_per_call", "gflops_per_s", "fraction_of_matmul_rate", "load_average",
    "estimated_s", "left_s", "both_cpu_s", "init_s",
}
TOP_FIELDS = {"schema", "started", "finished", "complete", "command", "budget_seconds", "elapsed_seconds",
              "settings", "machine", "matmul", "inference", "training", "skipped", "errors"}


def run_suite(tmp_path, budget, *args):
    output = tmp_path / "suite.json"
    start = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "bigcodec_jax.benchmark", "suite", "--budget-seconds", str(budget),
                          "--output", str(output), "--variant", "tiny_train", "--dtypes", "float32", "--repeats", "1",
                          *args], capture_output=True, text=True, timeout=budget + 120)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(output.read_text()), time.monotonic() - start, run.stdout


def test_suite_measures_what_fits_and_records_what_does_not(tmp_path):
    # batch 100000 cannot fit any budget by the estimate from batch 1, so it is skipped, not run; the
    # budget is generous so that batch 1 is measured even on a loaded machine (it takes ~1 min on 2 cores)
    report, elapsed, stdout = run_suite(tmp_path, 900, "--seconds", "0.5", "--batch-sizes", "1", "100000",
                                        "--train-batch-sizes", "100000")
    assert TOP_FIELDS <= set(report) and report["complete"] and not report["errors"]
    assert report["elapsed_seconds"] < 900 + 5 and elapsed < 900 + 120  # + the suite's own start-up
    assert report["machine"]["backend"] == "cpu" and report["machine"]["cpu_count"] >= 1
    (matmul,) = report["matmul"]
    assert matmul["dtype"] == "float32" and matmul["gflops_per_s"] > 0
    measured, big = report["inference"]
    assert measured["status"] == "ok", measured
    assert INFERENCE_FIELDS <= set(measured), INFERENCE_FIELDS - set(measured)
    assert measured["batch"] == 1 and measured["encode_audio_per_s"] > 0 and measured["compile_s"] > 0
    assert measured["gflop_per_call"] > 0 and 0 < measured["fraction_of_matmul_rate"]
    assert "resident" in measured["peak_memory_kind"]  # CPU: the process's RSS, labelled as such
    for what in ("encode", "decode"):  # the group's first measurement is profiled, from its own executables
        profile = measured["profile"][what]
        assert profile["wall_s"] == measured[f"{what}_s"] and profile["device_busy"] is None  # CPU: no device
        assert profile["kernels_s"] > 0 and sum(profile["kinds"].values()) == pytest.approx(profile["kernels_s"])
        assert "activation (anti-aliased SnakeBeta)" in profile["kinds"] and len(profile["top"]) == 10
    assert "profile, decode: " in stdout
    assert big["status"] == "skipped" and big["estimated_s"] > big["left_s"] and "does not fit" in big["reason"]
    (train,) = report["training"]
    assert train["status"] == "skipped" and train["estimated_s"] > train["left_s"]
    assert {(s["section"], s["batch"]) for s in report["skipped"]} == {("inference", 100000), ("training", 100000)}
    assert "skipped" in stdout and "does not fit" in stdout


def test_suite_stops_within_a_small_budget(tmp_path):
    report, elapsed, stdout = run_suite(tmp_path, 20, "--seconds", "1", "--batch-sizes", "2", "1",
                                        "--train-batch-sizes", "2")
    assert report["complete"]
    assert report["elapsed_seconds"] < 20 + 5 and elapsed < 20 + 120  # + the suite's own start-up
    rows = report["inference"] + report["training"]
    assert not any("profile" in row for row in rows[1:])  # only a group's first measurement is profiled
    assert len(rows) == 3  # every planned measurement is accounted for: measured, or skipped with a reason
    for row in rows:
        assert row["status"] in ("ok", "skipped")
        if row["status"] == "skipped":
            assert row["reason"]
    assert len(report["skipped"]) == sum(row["status"] == "skipped" for row in rows) >= 1


def test_a_groups_first_measurement_needs_only_the_suites_time():
    # nothing measured in the group yet: the suite's time left decides, not the group's share
    assert skip_reason(100.0, measured_before=False, group_left=30.0, suite_left=200.0) is None
    assert "left of the suite" in skip_reason(300.0, measured_before=False, group_left=30.0, suite_left=200.0)
    # after a figure: the group's share decides
    assert "this group's share" in skip_reason(100.0, measured_before=True, group_left=30.0, suite_left=200.0)
    assert skip_reason(20.0, measured_before=True, group_left=30.0, suite_left=200.0) is None
    assert skip_reason(None, measured_before=True, group_left=-5.0, suite_left=1.0) is None  # unknown cost: tried
