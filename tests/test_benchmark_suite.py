"""The benchmark suite on CPU at tiny sizes: its steps in order, one process each, the JSON written as it goes,
and the budget honoured."""
import argparse
import json
import subprocess
import sys
import time

from bigcodec_jax.benchmark import suite

INFERENCE_FIELDS = {
    "dtype", "batch", "seconds", "status", "encode_s", "decode_s", "both_s", "encode_audio_per_s",
    "decode_audio_per_s", "both_audio_per_s", "runs", "compile_s", "peak_memory_gib", "peak_memory_kind",
    "compiled_memory_gib", "gflop_per_call", "gflops_per_s", "fraction_of_matmul_rate", "load_average",
    "both_cpu_s", "init_s",
}
TOP_FIELDS = {"schema", "started", "finished", "complete", "command", "budget_seconds", "elapsed_seconds",
              "settings", "machine", "matmul", "inference", "training"}


def run_suite(tmp_path, budget, *args):
    output = tmp_path / "suite.json"
    start = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "bigcodec_jax.benchmark", "suite", "--budget-seconds", str(budget),
                          "--output", str(output), "--variant", "tiny_train", "--dtypes", "float32", "--repeats", "1",
                          *args], capture_output=True, text=True, timeout=budget + 120)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(output.read_text()), time.monotonic() - start, run.stdout


def test_steps_take_one_batch_size_of_each_kind_per_round():
    parser = argparse.ArgumentParser()
    suite.add_arguments(parser)
    args = parser.parse_args(["--output", "x.json", "--batch-sizes", "8", "64", "1", "--train-batch-sizes", "8",
                              "--dtypes", "bfloat16", "float32", "--torch-ref", "official"])
    order = [(s.get("model", s["kind"]), s.get("dtype"), s.get("batch")) for s in suite.steps(args)]
    assert order == [("matmul", None, None),
                     ("infer", "bfloat16", 8), ("infer", "float32", 8), ("train", "bfloat16", 8), ("train", "float32", 8),
                     ("xcodec2", "bfloat16", 8), ("neucodec", "bfloat16", 8),  # the family: bfloat16 8 and 64 x 10 s
                     ("infer", "bfloat16", 64), ("infer", "float32", 64), ("xcodec2", "bfloat16", 64),
                     ("neucodec", "bfloat16", 64), ("infer", "bfloat16", 1), ("infer", "float32", 1)]
    assert {s["seconds"] for s in suite.steps(args) if s["kind"] == "family"} == {10.0}
    official = [(s["dtype"], s["batch"]) for s in suite.steps(args) if s.get("torch_ref") == "official"]
    assert official == [("float32", 8), ("float32", 64), ("float32", 1)]  # the official model runs in float32 only


def test_suite_measures_in_order_and_records_every_step(tmp_path):
    # no training step: compiling one takes minutes on CPU (test_benchmark_train measures one, small)
    report, elapsed, stdout = run_suite(tmp_path, 900, "--seconds", "0.5", "--batch-sizes", "1", "--train-batch-sizes",
                                        "--family-batch-sizes")
    assert TOP_FIELDS <= set(report) and report["complete"] and report["schema"] == suite.SCHEMA
    assert report["elapsed_seconds"] < 900 + 5 and elapsed < 900 + 120  # + the suite's own start-up
    assert report["machine"]["backend"] == "cpu" and report["machine"]["cpu_count"] >= 1
    (matmul,) = report["matmul"]
    assert matmul["dtype"] == "float32" and matmul["gflops_per_s"] > 0
    (measured,) = report["inference"]
    assert measured["status"] == "ok", measured
    assert INFERENCE_FIELDS <= set(measured), INFERENCE_FIELDS - set(measured)
    assert measured["batch"] == 1 and measured["encode_audio_per_s"] > 0 and measured["compile_s"] > 0
    assert measured["gflop_per_call"] > 0 and 0 < measured["fraction_of_matmul_rate"]  # the matmul step's rate
    assert "resident" in measured["peak_memory_kind"]  # CPU: the process's RSS, labelled as such
    assert report["training"] == [] and report["family"] == []
    assert "matmul float32:" in stdout and "suite done" in stdout


def test_suite_stops_within_a_small_budget_and_says_why(tmp_path):
    report, elapsed, stdout = run_suite(tmp_path, 12, "--seconds", "1", "--batch-sizes", "2", "1",
                                        "--train-batch-sizes", "2", "--family-batch-sizes")
    assert report["complete"]
    assert report["elapsed_seconds"] < 12 + 5 and elapsed < 12 + 120  # + the suite's own start-up
    rows = report["inference"] + report["training"]
    assert len(rows) == 3  # every planned step is accounted for: measured, stopped or skipped, with a reason
    assert all(row["status"] in ("ok", "stopped", "skipped") for row in rows)
    assert all(row["reason"] for row in rows if row["status"] != "ok")
    assert any(row["status"] in ("stopped", "skipped") for row in rows)
    assert "stopped at the suite's end" in stdout or "left in the budget" in stdout


def test_a_failing_step_is_recorded_and_the_suite_goes_on(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "executable", "false")  # every step's process fails at once
    parser = argparse.ArgumentParser()
    suite.add_arguments(parser)
    output = tmp_path / "suite.json"
    suite.run(parser.parse_args(["--output", str(output), "--variant", "tiny_train", "--batch-sizes", "1", "2",
                                 "--train-batch-sizes", "--dtypes", "float32"]))
    report = json.loads(output.read_text())
    assert report["complete"] and len(report["matmul"]) == 1 and len(report["inference"]) == 2
    assert all(row["status"] == "failed" and "exit status 1" in row["reason"]
               for row in report["matmul"] + report["inference"] + report["family"])
    assert [row["model"] for row in report["family"]] == ["xcodec2", "neucodec"] * 2  # 8 and 64 x 10 s, bfloat16
