"""`benchmark profile`: kernel time charged from a trace (a CPU's and an accelerator's), and a real CPU run."""
import re
import subprocess
import sys

import pytest

from bigcodec_jax.benchmark.profile import charged_times


def test_cpu_trace_shares_overlapping_kernels_and_charges_a_loop_only_between_its_body():
    events = [
        {"ph": "X", "name": "conv.1", "ts": 0, "dur": 2, "args": {"hlo_op": "conv.1"}},
        {"ph": "X", "name": "end: conv.1", "ts": 8, "dur": 0},  # completes on the thread pool at 8
        {"ph": "X", "name": "fusion.2", "ts": 4, "dur": 4, "args": {"hlo_op": "fusion.2"}},
        {"ph": "X", "name": "while.1", "ts": 10, "dur": 10, "args": {"hlo_op": "while.1"}},
        {"ph": "X", "name": "fusion.5", "ts": 12, "dur": 2, "args": {"hlo_op": "fusion.5"}},
    ]
    assert charged_times(events) == pytest.approx({"conv.1": 6, "fusion.2": 2, "while.1": 8, "fusion.5": 2})


def test_cpu_kernel_completed_when_its_thread_ran_the_next_kernel_not_at_its_late_end_event():
    # the copy's completion callback on thread 2 ran the loop inline: its `end:` event comes after the
    # loop, but the copy had completed when thread 2 started the loop
    events = [
        {"ph": "X", "tid": 1, "name": "copy.1", "ts": 0, "dur": 2, "args": {"hlo_op": "copy.1"}},
        {"ph": "X", "tid": 2, "name": "while.1", "ts": 4, "dur": 10, "args": {"hlo_op": "while.1"}},
        {"ph": "X", "tid": 2, "name": "dot.2", "ts": 4, "dur": 10, "args": {"hlo_op": "dot.2"}},
        {"ph": "X", "tid": 2, "name": "end: copy.1", "ts": 15, "dur": 0},
        {"ph": "X", "tid": 3, "name": "conv.3", "ts": 20, "dur": 1, "args": {"hlo_op": "conv.3"}},
        {"ph": "X", "tid": 4, "name": "end: conv.3", "ts": 26, "dur": 0},  # thread 4 ran nothing else: as before
    ]
    assert charged_times(events) == pytest.approx({"copy.1": 4, "dot.2": 10, "conv.3": 6})


def test_accelerator_trace_counts_device_kernels_under_their_instructions():
    events = [
        {"ph": "M", "name": "process_name", "pid": 1, "args": {"name": "/device:GPU:0 (NVIDIA H100)"}},
        {"ph": "M", "name": "process_name", "pid": 2, "args": {"name": "/host:CPU"}},
        {"ph": "X", "pid": 1, "name": "loop_multiply_fusion", "ts": 0, "dur": 10, "args": {"hlo_op": "fusion.3"}},
        {"ph": "X", "pid": 1, "name": "sm90_xmma_gemm_bf16", "ts": 30, "dur": 5, "args": {"hlo_op": "custom-call.1"}},
        {"ph": "X", "pid": 1, "name": "loop_multiply_fusion", "ts": 40, "dur": 10, "args": {"hlo_op": "fusion.3"}},
        # a kernel of a loop's body, under its nested annotation stack: charged to the body's instruction
        {"ph": "X", "pid": 1, "name": "loop_add_fusion", "ts": 60, "dur": 4, "args": {"hlo_op": "while.2::fusion.7"}},
        {"ph": "X", "pid": 2, "name": "ThunkExecute", "ts": 0, "dur": 100, "args": {"hlo_op": "fusion.3"}},  # host
    ]
    # the host's launch events are not device time, and the idle gaps (10..30, 35..40) are charged to nothing
    assert charged_times(events) == pytest.approx({"fusion.3": 20, "custom-call.1": 5, "fusion.7": 4})


def test_profile_runs_on_cpu_and_accounts_for_the_call():
    run = subprocess.run([sys.executable, "-m", "bigcodec_jax.benchmark", "profile", "--variant", "tiny_train",
                          "--batch-size", "1", "--seconds", "0.5", "--top", "3"],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    for what in ("encode", "decode"):
        block = run.stdout.split(f"\n{what}: ")[1].split("\n\n")[0]
        wall, charged = map(float, re.match(r"([\d.]+) s a call .*kernels charged ([\d.]+) s", block).groups())
        assert wall > 0 and charged > 0
        shares = [float(m) for m in re.findall(r"\s([\d.]+)%\n", block + "\n")]
        assert "activation (anti-aliased SnakeBeta)" in block and abs(sum(shares) - 100) < 0.5, block
        assert len(re.findall(r"^\s+[\d.]+ s  \S+", block, flags=re.M)) == 3  # the slowest kernels, --top 3


def test_a_trace_without_kernel_events_is_an_error_not_a_division_by_zero(monkeypatch):
    from bigcodec_jax.benchmark import profile

    monkeypatch.setattr(profile, "profile", lambda compiled, call, folder: ({}, [], 0.0))
    with pytest.raises(ValueError, match="no kernel events"):
        profile.summary(None, lambda: None, wall_s=0.5)
