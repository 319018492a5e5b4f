"""Everything at once, within a time budget: the accelerator suite (one call on a lent machine).

In order: this machine's matmul rate (float32, and bfloat16 on accelerators); inference (encode,
decode, both; compile time, FLOP rate, memory) for every dtype and batch size, batch 8 first (the
cheapest useful point, whose compile and run times then price the others); training steps for
every dtype and batch size. With `--torch-ref`, the official PyTorch model runs interleaved with
our float32 inference on the same clip sizes. The first inference measurement of each dtype also
records where its calls spend their time (`benchmark profile`'s summary: time per layer kind, the
slowest kernels, on an accelerator the share of the call the device was busy), traced from the
executables already compiled, so a lent machine gives the profile in the same call.

Budget: each group (matmul, inference per dtype, training per dtype) runs in its own process (so
that its peak memory is its own and a crash or an out-of-memory error loses only that group)
with a share of the time left; time a group does not use goes to the next ones. Before each
measurement the worker estimates its cost (compile time and runs, from the measurements before
it, or a prior for the first) and skips it, saying why, when the estimate exceeds its group's
share left, or for a group's first measurement the whole suite's time left (one figure per group
is worth more than the share's fairness). A measurement once started runs to its end: only the
suite's own end stops it (a killed measurement is time lost for nothing; on a GPU one compile
with autotuning can take minutes). Every result and every skip is written to the JSON at once
(atomically), so a run that is killed still leaves what it measured; the JSON's `complete` says
whether the suite finished.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time

SCHEMA = "bigcodec-benchmark-suite/1"
RESULT = "RESULT "  # prefix of a worker's result lines on its stdout
# Share of the time left that each group gets (matmul first, then these in order).
WEIGHTS = {("infer", "bfloat16"): 3.0, ("infer", "float32"): 3.0, ("train", "bfloat16"): 2.5,
           ("train", "float32"): 2.0}
TRAIN_COMPILE_PER_INFER_COMPILE = 6.0  # prior: a GAN step compiles ~6x longer than encode + decode
TRAIN_STEP_PER_INFER = 5.0  # prior: a GAN step (forward, backward, discriminators) costs ~5x encode + decode
MIN_GROUP_S = 2.0  # a group with less time than this is not started (a worker takes ~2 s to start)
FIRST_COMPILE_PRIOR_S = 20.0  # prior for the first measurement of all (nothing measured yet)


def add_arguments(p: argparse.ArgumentParser) -> None:
    from bigcodec_jax import errors
    from bigcodec_jax.benchmark.infer import add_torch_arguments
    from bigcodec_jax.config import VARIANTS

    p.add_argument("--budget-seconds", type=errors.positive_seconds, default=420.0,
                   help="wall-clock budget of the whole suite")
    p.add_argument("--output", required=True, help="JSON file written after every result")
    p.add_argument("--variant", default="full", choices=VARIANTS,
                   help="model variant (default: the released full size)")
    p.add_argument("--seconds", type=errors.positive_seconds, default=10.0, help="inference clip length")
    p.add_argument("--batch-sizes", type=errors.positive_int, nargs="+", default=[8, 64, 32, 1],
                   help="inference batch sizes, in the order they are measured")
    p.add_argument("--dtypes", nargs="+", default=["bfloat16", "float32"], choices=["float32", "bfloat16"])
    p.add_argument("--train-batch-sizes", type=errors.positive_int, nargs="*", default=[8, 32],
                   help="training batch sizes, in order (none: no training)")
    p.add_argument("--train-seconds", type=errors.positive_seconds, default=1.0, help="training crop length")
    p.add_argument("--repeats", type=errors.positive_int, default=3,
                   help="timed runs of each measurement after a warm-up")
    p.add_argument("--no-profile", dest="profile", action="store_false",
                   help="do not profile the first inference measurement of each dtype")
    add_torch_arguments(p)


# ----------------------------------------------------------------------------------------- parent

class Report:
    """The suite's JSON, rewritten atomically after every change."""

    def __init__(self, path: str, args: argparse.Namespace):
        self.path = path
        self.data = {
            "schema": SCHEMA, "started": _now(), "finished": None, "complete": False, "command": sys.argv,
            "budget_seconds": args.budget_seconds, "elapsed_seconds": 0.0,
            "settings": {"variant": args.variant, "seconds": args.seconds, "batch_sizes": args.batch_sizes,
                         "dtypes": args.dtypes, "train_batch_sizes": args.train_batch_sizes,
                         "train_seconds": args.train_seconds, "repeats": args.repeats,
                         "torch_ref": args.torch_ref, "torch_device": args.torch_device,
                         "profile": args.profile},
            "machine": {"load_average_start": _load()}, "matmul": [], "inference": [], "training": [],
            "skipped": [], "errors": [],
        }
        self.started = time.monotonic()
        self.write()

    def add(self, section: str, row: dict) -> None:
        self.data[section].append(row)
        if row.get("status") == "skipped":
            self.data["skipped"].append({"section": section, **{k: row[k] for k in row if k != "status"}})
        self.write()

    def write(self) -> None:
        from bigcodec_jax.io import staged

        self.data["elapsed_seconds"] = round(time.monotonic() - self.started, 1)
        staged.write_text(self.path, json.dumps(self.data, indent=1))  # whole or not at all


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _groups(args: argparse.Namespace) -> list[dict]:
    """The worker specs in the order they run (without deadlines)."""
    groups = [{"kind": "matmul"}]
    for dtype in args.dtypes:
        groups.append({"kind": "infer", "dtype": dtype, "batches": args.batch_sizes, "seconds": args.seconds})
    for dtype in args.dtypes:
        if args.train_batch_sizes:
            groups.append({"kind": "train", "dtype": dtype, "batches": args.train_batch_sizes,
                           "seconds": args.train_seconds})
    for g in groups:
        g.update(variant=args.variant, repeats=args.repeats, torch_ref=args.torch_ref,
                 torch_python=args.torch_python, torch_device=args.torch_device,
                 profile=args.profile and g["kind"] == "infer")
    return groups


def _priors(report: Report) -> dict:
    """What the measurements so far say about the cost of the next ones (seconds)."""
    infer = [r for r in report.data["inference"] if r.get("status") == "ok"]
    train = [r for r in report.data["training"] if r.get("status") == "ok"]
    priors = {"infer_compile_s": FIRST_COMPILE_PRIOR_S}
    if infer:
        priors["infer_compile_s"] = max(r["compile_s"] for r in infer)
        # seconds of wall time per second of audio, encode + decode, slowest dtype so far
        priors["infer_s_per_audio_s"] = max(r["both_s"] / (r["batch"] * r["seconds"]) for r in infer)
    priors["train_compile_s"] = (max(r["compile_s"] for r in train) if train
                                 else priors["infer_compile_s"] * TRAIN_COMPILE_PER_INFER_COMPILE)
    if train:
        priors["train_s_per_audio_s"] = max(r["step_s"] / (r["batch"] * r["seconds"]) for r in train)
    elif "infer_s_per_audio_s" in priors:
        priors["train_s_per_audio_s"] = priors["infer_s_per_audio_s"] * TRAIN_STEP_PER_INFER
    return priors


SECTIONS = {"matmul": "matmul", "infer": "inference", "train": "training"}


def _print_row(section: str, row: dict) -> None:
    from bigcodec_jax.benchmark import infer, train

    if row.get("status") != "ok":
        what = " ".join(f"{k} {row[k]}" for k in ("dtype", "batch") if k in row)
        print(f"{section} {what}: {row.get('status')}: {row.get('reason', '')}", flush=True)
    elif section == "matmul":
        print(f"matmul {row['dtype']}: {row['gflops_per_s']:.0f} GFLOP/s ({row['n']}^3)", flush=True)
    elif section == "inference":
        print(infer.format_row(row), flush=True)
        for what, summary in row.get("profile", {}).items():
            print(f"  profile, {what}: {_profile_line(summary)}", flush=True)
    else:
        print(train.format_row(row), flush=True)


def _profile_line(summary: dict) -> str:
    """One line of a profile summary: the device's busy share and the three largest layer kinds."""
    if "error" in summary:
        return f"failed: {summary['error'][-200:]}"
    busy = "" if summary["device_busy"] is None else f"device busy {summary['device_busy']:.0%}; "
    kinds = ", ".join(f"{kind} {seconds / summary['kernels_s']:.0%}"
                      for kind, seconds in list(summary["kinds"].items())[:3])
    return busy + kinds


def _forward_lines(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def _runs_official(spec: dict) -> bool:
    """Whether the group runs the official model beside ours (float32 inference with `--torch-ref`)."""
    return spec["kind"] == "infer" and bool(spec.get("torch_ref")) and spec["dtype"] == "float32"


def _worker_env(spec: dict) -> dict:
    """The worker's environment: when the official model shares the accelerator, JAX must not take
    most of its memory up front (its default), or the official model runs out of memory. A group that
    profiles needs XLA's per-kernel trace events on CPU, switched on when JAX starts."""
    from bigcodec_jax.benchmark.profile import enable_cpu_kernel_traces

    env = enable_cpu_kernel_traces(os.environ) if spec.get("profile") else dict(os.environ)
    if _runs_official(spec) and spec["torch_device"] != "cpu":
        env["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
    return env


def _run_group(spec: dict, report: Report, deadline: float, stop: float) -> None:
    """Run one worker with `deadline` (monotonic) for starting measurements, until it finishes or the
    suite's end `stop` passes; record what it says."""
    section = SECTIONS[spec["kind"]]
    rates = {r["dtype"]: r["gflops_per_s"] for r in report.data["matmul"] if r.get("status") == "ok"}
    spec = {**spec, "deadline_in_s": deadline - time.monotonic(), "stop_in_s": stop - time.monotonic(),
            "priors": _priors(report), "matmul_gflops": rates.get(spec.get("dtype"), rates.get("float32"))}
    with tempfile.TemporaryFile("w+") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "bigcodec_jax.benchmark.suite", "--worker", json.dumps(spec)],
                                   stdout=subprocess.PIPE, stderr=stderr, text=True, start_new_session=True,
                                   env=_worker_env(spec))
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=_forward_lines, args=(process.stdout, lines), daemon=True).start()
        reported = []
        killed = False
        try:
            while True:
                try:
                    line = lines.get(timeout=max(0.0, stop - time.monotonic()))
                except queue.Empty:
                    killed = True
                    break
                if line is None:
                    break
                if line.startswith(RESULT):
                    row = json.loads(line[len(RESULT):])
                    if "machine" in row:
                        report.data["machine"].update(row["machine"])
                        report.write()
                        continue
                    reported.append(row.get("batch", row.get("dtype")))
                    report.add(section, row)
                    _print_row(section, row)
        finally:  # the suite's end, or the suite itself interrupted: the worker (and its children) go too
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        stderr.seek(0)
        error = stderr.read()[-3000:]
    if killed:
        pending = [b for b in spec.get("batches", []) if b not in reported]
        for i, batch in enumerate(pending):
            reason = (f"stopped at the suite's end ({spec['stop_in_s']:.0f} s after the group started) while "
                      "measuring it" if i == 0 else f"not started: the suite ended while measuring batch {pending[0]}")
            report.add(section, {"dtype": spec["dtype"], "batch": batch, "seconds": spec["seconds"],
                                 "status": "skipped", "reason": reason})
            _print_row(section, report.data[section][-1])
    elif process.returncode != 0:
        report.data["errors"].append({"group": {k: spec[k] for k in ("kind", "dtype") if k in spec},
                                      "returncode": process.returncode, "stderr_tail": error})
        report.write()
        print(f"{section} {spec.get('dtype', '')}: worker failed (exit {process.returncode}):\n{error}",
              file=sys.stderr, flush=True)


def _interrupted(signum, _frame) -> None:
    raise SystemExit(f"suite interrupted by signal {signum}; the JSON has what was measured")


def run(args: argparse.Namespace) -> None:
    from bigcodec_jax.benchmark import train

    for dtype in args.dtypes:  # bad training settings are refused now, not found by a worker minutes later
        for batch in args.train_batch_sizes:
            train.step_config(args.variant, dtype, batch, args.train_seconds, "--train-seconds")
    signal.signal(signal.SIGTERM, _interrupted)  # so that the running worker is stopped too
    start = time.monotonic()
    end = start + args.budget_seconds
    report = Report(args.output, args)
    groups = _groups(args)
    print(f"suite: budget {args.budget_seconds:.0f} s, {len(groups)} groups, results in {args.output} "
          f"(load average {_load()[0]:.2f})", flush=True)
    weights = [WEIGHTS.get((g["kind"], g.get("dtype")), 0.0) for g in groups]
    for i, spec in enumerate(groups):
        left = end - time.monotonic()
        if spec["kind"] == "matmul":
            deadline = time.monotonic() + min(left, max(30.0, 0.1 * left))
        else:
            deadline = time.monotonic() + left * weights[i] / sum(weights[i:])
        if spec["kind"] != "matmul":
            title = f"{SECTIONS[spec['kind']]}, {spec['dtype']}, {spec['seconds']:g} s clips"
            from bigcodec_jax.benchmark import infer, train

            print(f"\n{title} (up to {deadline - time.monotonic():.0f} s)\n"
                  f"{(infer if spec['kind'] == 'infer' else train).HEADER}", flush=True)
        if deadline - time.monotonic() < MIN_GROUP_S:
            for batch in spec.get("batches", []):
                report.add(SECTIONS[spec["kind"]], {"dtype": spec["dtype"], "batch": batch, "seconds": spec["seconds"],
                                                    "status": "skipped", "reason": "no time left in the budget"})
                _print_row(SECTIONS[spec["kind"]], report.data[SECTIONS[spec["kind"]]][-1])
            continue
        _run_group(spec, report, deadline, end)
    report.data.update(finished=_now(), complete=True)
    report.data["machine"]["load_average_end"] = _load()
    report.write()
    skipped = len(report.data["skipped"])
    print(f"\nsuite done in {time.monotonic() - start:.0f} s of {args.budget_seconds:.0f}; "
          f"{skipped} measurement(s) skipped{' (see skipped in the JSON)' if skipped else ''}; {args.output}",
          flush=True)


# ----------------------------------------------------------------------------------------- worker

def _emit(row: dict) -> None:
    print(RESULT + json.dumps(row), flush=True)


def _estimate(spec: dict, priors: dict, rows: list[dict], batch: int) -> float | None:
    """Seconds the measurement of `batch` will take (compile + warm-up + repeats), None when unknown."""
    runs = spec["repeats"] + 1
    audio = batch * spec["seconds"]
    if spec["kind"] == "infer":
        compile_s = rows[-1]["compile_s"] if rows else priors["infer_compile_s"]
        per_audio = (min(r["both_s"] / (r["batch"] * r["seconds"]) for r in rows) if rows
                     else priors.get("infer_s_per_audio_s"))
        if _runs_official(spec):
            runs *= 3  # the official model runs interleaved and is slower than ours
        if spec.get("profile") and not rows:
            runs += 1  # the traced call of the group's first measurement (and reading its trace)
        return compile_s + (runs * audio * per_audio if per_audio else 0.0)
    compile_s = rows[-1]["compile_s"] if rows else priors["train_compile_s"]
    per_audio = (min(r["step_s"] / (r["batch"] * r["seconds"]) for r in rows) if rows
                 else priors.get("train_s_per_audio_s"))
    return compile_s + (runs * audio * per_audio if per_audio else 0.0)


def skip_reason(estimate: float | None, measured_before: bool, group_left: float, suite_left: float) -> str | None:
    """Why a measurement estimated at `estimate` seconds is not started, or None to start it.

    A group's first measurement needs only the suite's time left: one figure per group is worth
    more than keeping to the group's share. The others must fit the group's share left.
    """
    if estimate is None:
        return None
    if not measured_before:
        if estimate > suite_left:
            return f"estimated {estimate:.0f} s does not fit the {suite_left:.0f} s left of the suite"
        return None
    if estimate > group_left:
        return f"estimated {estimate:.0f} s does not fit the {max(group_left, 0.0):.0f} s left of this group's share"
    return None


def _tail(text: str, size: int) -> str:
    """The end of `text` (an error's last lines say what went wrong; its first are often warnings)."""
    return text if len(text) <= size else "..." + text[-size:]


def _watchdog(stop: float) -> None:
    """Exit when the suite that started this worker is gone, or well past the end it set."""
    parent = os.getppid()
    while os.getppid() == parent and time.monotonic() < stop + 30:
        time.sleep(1)
    os._exit(3)


def worker(spec: dict) -> None:
    """Measure one group, printing a RESULT line per measurement or skip; start a measurement only when
    its estimate fits (`skip_reason`)."""
    now = time.monotonic()
    deadline, stop = now + spec["deadline_in_s"], now + spec["stop_in_s"]
    threading.Thread(target=_watchdog, args=(stop,), daemon=True).start()
    from bigcodec_jax.benchmark import common

    _emit({"machine": common.machine()})
    if spec["kind"] == "matmul":
        import jax

        for dtype in ["float32"] + (["bfloat16"] if jax.default_backend() != "cpu" else []):
            _emit({**common.matmul_rate(dtype), "status": "ok"})
        return
    import jax

    from bigcodec_jax import BigCodec
    from bigcodec_jax.benchmark import infer, train
    from bigcodec_jax.benchmark.official_torch import OfficialModel

    priors, rows = spec["priors"], []
    codec, init_s = None, None
    if spec["kind"] == "infer":  # random weights, made once for the group (timed: on a GPU it compiles too)
        start = time.perf_counter()
        codec = BigCodec.random(spec["variant"], dtype=spec["dtype"])
        jax.block_until_ready(codec.params)
        init_s = time.perf_counter() - start
    for batch in spec["batches"]:
        now = time.monotonic()
        left = deadline - now
        estimate = _estimate(spec, priors, rows, batch)
        base = {"dtype": spec["dtype"], "batch": batch, "seconds": spec["seconds"], "estimated_s": estimate,
                "left_s": left}
        reason = skip_reason(estimate, bool(rows), left, stop - now)
        if reason:
            _emit({**base, "status": "skipped", "reason": reason})
            continue
        official = None
        try:
            if spec["kind"] == "infer":
                if _runs_official(spec):
                    official = OfficialModel(spec["torch_python"], spec["torch_ref"], batch, spec["seconds"],
                                             spec["torch_device"])
                row = infer.measure(codec, batch, spec["seconds"], spec["repeats"], official,
                                    spec.get("matmul_gflops"), profile=spec.get("profile", False) and not rows)
            else:
                row = train.measure(spec["variant"], spec["dtype"], batch, spec["seconds"], spec["repeats"])
        except Exception as error:  # noqa: BLE001 - recorded (out of memory, ...) and the next one tried
            _emit({**base, "status": "failed", "reason": f"{type(error).__name__}: {_tail(str(error), 1500)}"})
            continue
        finally:
            if official:
                official.close()
        row.update(estimated_s=estimate, left_s=left)
        if spec["kind"] == "infer" and not rows:
            row["init_s"] = init_s
        rows.append(row)
        _emit(row)


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "--worker":
    worker(json.loads(sys.argv[2]))
