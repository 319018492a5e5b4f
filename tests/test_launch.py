"""bigcodec_jax.launch with small Python commands (no JAX): the job's variables, prefixed output, signals
forwarded, a failing process stopping the others within the grace periods; and distributed.initialize's
reading of the JAX_* variables."""
import os
import signal
import subprocess
import sys
import time

import pytest

from bigcodec_jax import distributed

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _launch(*args, code):
    return subprocess.Popen([sys.executable, "-m", "bigcodec_jax.launch", *args, "--", sys.executable, "-c", code],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_processes_get_the_job_variables_and_prefixed_output():
    code = ("import os; print(os.environ['JAX_PROCESS_ID'], os.environ['JAX_NUM_PROCESSES'], "
            "os.environ['JAX_COORDINATOR_ADDRESS'].startswith('127.0.0.1:'), os.environ['XLA_FLAGS'], sep='|');"
            "import sys; print('to stderr', file=sys.stderr)")
    proc = _launch("--processes", "3", "--devices-per-process", "2", code=code)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert sorted(out.splitlines()) == [f"[{i}] {i}|3|True|--xla_force_host_platform_device_count=2" for i in range(3)]
    assert sorted(err.splitlines()) == [f"[{i}] to stderr" for i in range(3)]


def test_progress_bars_get_one_prefix():
    # tqdm starts with a bare \r on an empty line, then redraws after each \r
    code = "import sys; sys.stderr.write('\\rbar 1\\rbar 2\\n')"
    proc = subprocess.run([sys.executable, "-m", "bigcodec_jax.launch", "--processes", "1", "--", sys.executable, "-c",
                           code], cwd=ROOT, capture_output=True, timeout=60)  # bytes: text mode reads \r as \n
    assert proc.returncode == 0
    assert proc.stderr == b"\r[0] bar 1\r[0] bar 2\n"


def test_a_failing_process_stops_the_others_and_sets_the_status():
    # process 1 fails at once; process 0 ignores SIGTERM, so only the SIGKILL after --kill-after ends it
    code = ("import os, signal, sys, time\n"
            "if os.environ['JAX_PROCESS_ID'] == '1': sys.exit(3)\n"
            "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)")
    start = time.monotonic()
    proc = _launch("--processes", "2", "--grace", "1", "--kill-after", "1", code=code)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 3 and time.monotonic() - start < 30
    assert "process 1 exited with status 3" in err and "SIGKILL" in err


def test_signals_are_forwarded_and_the_jobs_status_kept():
    code = ("import signal, sys, time\n"
            "signal.signal(signal.SIGTERM, lambda *a: sys.exit(75))\n"
            "print('ready', flush=True); time.sleep(120)")
    proc = _launch("--processes", "2", code=code)
    ready = 0
    while ready < 2:
        ready += "ready" in proc.stdout.readline()
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode == 75  # "preempted, saved" from every process: the job's status


def test_killed_process_status_is_128_plus_the_signal():
    proc = _launch("--processes", "2", "--grace", "0", code="import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
    proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGKILL


def test_no_job_variables_means_a_single_process(monkeypatch):
    for name in distributed.EXPLICIT_VARIABLES + ("SLURM_NTASKS", "TPU_WORKER_HOSTNAMES", "OMPI_COMM_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    assert "single process" in distributed.initialize()


@pytest.mark.parametrize("variables, message", [
    ({"JAX_COORDINATOR_ADDRESS": "127.0.0.1:1234"}, "JAX_NUM_PROCESSES, JAX_PROCESS_ID not set"),
    ({"JAX_COORDINATOR_ADDRESS": "h:1", "JAX_NUM_PROCESSES": "two", "JAX_PROCESS_ID": "0"}, "must be integers"),
    ({"JAX_COORDINATOR_ADDRESS": "h:1", "JAX_NUM_PROCESSES": "2", "JAX_PROCESS_ID": "2"}, r"must be in \[0, "),
])
def test_bad_job_variables_are_named(monkeypatch, variables, message):
    for name in distributed.EXPLICIT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=message):
        distributed.initialize()


def test_bad_command_lines_get_one_line_errors():
    for args, expected in ((["--processes", "0", "--", "true"], "--processes: must be a positive integer"),
                           (["--processes", "2"], "no command given"),
                           (["--processes", "1", "--", "/no/such/program"], "cannot start '/no/such/program'"),
                           # a NaN grace would never stop the others: a hung process would hang the job
                           (["--processes", "2", "--grace", "nan", "--", "true"], "--grace: must be a number of seconds"),
                           (["--processes", "2", "--grace", "-5", "--", "true"], "--grace: must be a number of seconds"),
                           (["--processes", "2", "--kill-after", "inf", "--", "true"], "--kill-after: must be a number")):
        proc = subprocess.run([sys.executable, "-m", "bigcodec_jax.launch", *args], capture_output=True, text=True,
                              timeout=60)
        assert proc.returncode == 2, (args, proc.stderr)
        assert proc.stderr.startswith("error: ") and expected in proc.stderr and proc.stderr.count("\n") == 1, \
            proc.stderr
