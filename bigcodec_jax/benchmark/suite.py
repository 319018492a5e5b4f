"""Everything within a time budget, to one JSON file written as it goes (the first command on a lent accelerator).

The steps: this machine's matmul rate, then rounds of `benchmark infer` rows (the official model
beside our float32 with `--torch-ref`), `benchmark train` rows and `benchmark family` rows (X-Codec2
and NeuCodec, random weights at the released size, `--family-dtypes`); round i measures every dtype
at the i-th batch size of each, so a short budget gives one figure of each kind first. Each step runs
in a process of its own (a crash or out-of-memory loses only it) limited to the budget's time left;
one starting with under `MIN_STEP_S` left is skipped. Each row (ok, failed, stopped or skipped,
with the reason) is written as its step ends, the file rewritten whole; `complete` says it finished.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import time

import jax

from bigcodec_jax import BigCodec, errors
from bigcodec_jax.benchmark import common, family, infer, train
from bigcodec_jax.benchmark.common import add_model_arguments, add_torch_arguments, load_average
from bigcodec_jax.benchmark.official_torch import OfficialModel
from bigcodec_jax.io import staged

SCHEMA = "bigcodec-benchmark-suite/3"
MIN_STEP_S = 5.0  # a step's process takes a few seconds to start (importing JAX)
SECTIONS = {"matmul": "matmul", "infer": "inference", "train": "training", "family": "family"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--budget-seconds", type=errors.positive_seconds, default=420.0,
                   help="wall-clock budget of the whole suite")
    p.add_argument("--output", required=True, help="JSON file written after every step")
    add_model_arguments(p, seconds=10.0, seconds_help="inference clip length", repeats=3,
                        dtypes=["bfloat16", "float32"])
    p.add_argument("--batch-sizes", type=errors.positive_int, nargs="+", default=[8, 64, 32, 1],
                   help="inference batch sizes, in the order they are measured")
    p.add_argument("--train-batch-sizes", type=errors.positive_int, nargs="*", default=[8, 32],
                   help="training batch sizes, in order (none: no training)")
    p.add_argument("--train-seconds", type=errors.positive_seconds, default=1.0, help="training crop length")
    p.add_argument("--family-batch-sizes", type=errors.positive_int, nargs="*", default=[8, 64],
                   help="X-Codec2 / NeuCodec batch sizes of --seconds clips, in order (none: no family rows)")
    p.add_argument("--family-dtypes", nargs="+", default=["bfloat16"], choices=common.DTYPES)
    add_torch_arguments(p)


def steps(args: argparse.Namespace) -> list[dict]:
    """The steps in the order they run (see the module docstring)."""
    shared = {"variant": args.variant, "repeats": args.repeats}
    out = [{"kind": "matmul"}]
    for i in range(max(len(args.batch_sizes), len(args.train_batch_sizes), len(args.family_batch_sizes))):
        for kind, sizes, seconds in (("infer", args.batch_sizes, args.seconds),
                                     ("train", args.train_batch_sizes, args.train_seconds)):
            if i < len(sizes):
                out += [{"kind": kind, "dtype": d, "batch": sizes[i], "seconds": seconds, **shared}
                        for d in args.dtypes]
        if i < len(args.family_batch_sizes):
            out += [{"kind": "family", "model": m, "dtype": d, "batch": args.family_batch_sizes[i],
                     "seconds": args.seconds, "repeats": args.repeats} for m in family.FAMILIES
                    for d in args.family_dtypes]
    for step in out:
        if step["kind"] == "infer" and step["dtype"] == "float32" and args.torch_ref:
            step.update(torch_ref=args.torch_ref, torch_python=args.torch_python, torch_device=args.torch_device)
    return out


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _print_row(section: str, row: dict) -> None:
    if row.get("status") != "ok":
        what = " ".join(f"{k} {row[k]}" for k in ("model", "dtype", "batch") if k in row)
        print(f"{section} {what}: {row.get('status')}: {row.get('reason', '')}", flush=True)
    elif section == "matmul":
        print(f"matmul {row['dtype']}: {row['gflops_per_s']:.0f} GFLOP/s ({row['n']}^3)", flush=True)
    else:
        print({"inference": infer, "training": train, "family": family}[section].format_row(row), flush=True)


def _run_step(step: dict, left: float) -> list[dict]:
    """The rows of one step, run in a process of its own for at most `left` seconds."""
    env = dict(os.environ)
    if step.get("torch_ref") and step["torch_device"] != "cpu":  # JAX must leave the official model its memory
        env["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
    base = {k: step[k] for k in ("model", "dtype", "batch", "seconds") if k in step}
    try:
        done = subprocess.run([sys.executable, "-m", "bigcodec_jax.benchmark.suite", "--step", json.dumps(step)],
                              capture_output=True, text=True, timeout=left, env=env)
    except subprocess.TimeoutExpired:
        return [{**base, "status": "stopped", "reason": f"stopped at the suite's end, after {left:.0f} s"}]
    if done.returncode != 0:
        return [{**base, "status": "failed", "reason": f"exit status {done.returncode}: {done.stderr[-1500:]}"}]
    return json.loads(done.stdout.splitlines()[-1])


def run(args: argparse.Namespace) -> None:
    for batch in args.train_batch_sizes:  # bad training settings are refused now, not by a step minutes later
        train.step_config(args.variant, "float32", batch, args.train_seconds, "--train-seconds")
    start = time.monotonic()
    end = start + args.budget_seconds
    report = {"schema": SCHEMA, "started": _now(), "finished": None, "complete": False, "command": sys.argv,
              "budget_seconds": args.budget_seconds, "elapsed_seconds": 0.0,
              "settings": {k: v for k, v in vars(args).items() if k not in ("output", "what")},
              "machine": {"load_average_start": load_average()}, **{section: [] for section in SECTIONS.values()}}
    staged.write_text(args.output, json.dumps(report, indent=1))
    planned = steps(args)
    print(f"suite: budget {args.budget_seconds:.0f} s, {len(planned)} steps, results in {args.output}", flush=True)
    for step in planned:
        left = end - time.monotonic()
        if left < MIN_STEP_S:
            rows = [{k: step[k] for k in ("model", "dtype", "batch", "seconds") if k in step} |
                    {"status": "skipped", "reason": f"{max(left, 0):.0f} s left in the budget"}]
        else:
            if step["kind"] == "infer":
                rates = {r["dtype"]: r["gflops_per_s"] for r in report["matmul"] if r.get("status") == "ok"}
                step["matmul_gflops"] = rates.get(step["dtype"], rates.get("float32"))
            rows = _run_step(step, left)
        section = SECTIONS[step["kind"]]
        for row in rows:
            if "machine" in row:
                report["machine"].update(row.pop("machine"))
            report[section].append(row)
            _print_row(section, row)
        report["elapsed_seconds"] = round(time.monotonic() - start, 1)
        staged.write_text(args.output, json.dumps(report, indent=1))  # whole or not at all
    report.update(finished=_now(), complete=True, elapsed_seconds=round(time.monotonic() - start, 1))
    report["machine"]["load_average_end"] = load_average()
    staged.write_text(args.output, json.dumps(report, indent=1))
    not_ok = sum(r.get("status") != "ok" for s in SECTIONS.values() for r in report[s])
    print(f"suite done in {report['elapsed_seconds']:.0f} s of {args.budget_seconds:.0f}; {not_ok} step(s) not "
          f"measured (see their status and reason in the JSON); {args.output}", flush=True)


def run_step(step: dict) -> list[dict]:
    """Measure one step in this process: its rows (the matmul step's first row also says which machine)."""
    if step["kind"] == "matmul":
        dtypes = ["float32"] + (["bfloat16"] if jax.default_backend() != "cpu" else [])
        rows = [{**common.matmul_rate(d), "status": "ok"} for d in dtypes]
        rows[0]["machine"] = common.machine()
        return rows
    if step["kind"] == "train":
        return [train.measure(step["variant"], step["dtype"], step["batch"], step["seconds"], step["repeats"])]
    if step["kind"] == "family":
        codec = family.load(step["model"], None, step["dtype"])
        return [family.measure(codec, step["batch"], step["seconds"], step["repeats"])]
    start = time.perf_counter()
    codec = BigCodec.random(step["variant"], dtype=step["dtype"])
    jax.block_until_ready(codec.params)  # on an accelerator making the weights compiles too
    init_s = time.perf_counter() - start
    official = None
    try:
        if step.get("torch_ref"):
            official = OfficialModel(step["torch_python"], step["torch_ref"], step["batch"], step["seconds"],
                                     step["torch_device"])
        row = infer.measure(codec, step["batch"], step["seconds"], step["repeats"], official, step.get("matmul_gflops"))
    finally:
        if official:
            official.close()
    return [{**row, "init_s": init_s}]


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "--step":
    print(json.dumps(run_step(json.loads(sys.argv[2]))))
