"""train.py as a real multi-process JAX job: processes started by `bigcodec_jax.launch` on CPU (gloo
collectives), one mesh over all of their devices. 2 processes x 2 devices give the losses of 1 process
x 4 devices; SIGTERM to one process saves the same step everywhere and exits "preempted, saved"; kill -9
of one process ends the job without a hang; relaunches continue bit-identically; checkpoints restore
under another process count, data position included. Runs share one compilation cache."""
import os
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

from bigcodec_jax import data, errors
from bigcodec_jax.training.writer import read_metrics
from run_configs.fast import get_config as fast_config
from scripts.restore_check import by_path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEPS = 6  # tests/run_configs/fast.py: 6 steps, a checkpoint every 3, logs every step
ARGS = ["--config", os.path.join(ROOT, "tests", "run_configs", "fast.py"), "--config.batch_size=4"]  # 1 example/device
NOTICE_SECONDS = 30  # a dead process ends the job within this (the launcher: 5 s grace + 10 s to SIGKILL)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    return dict(os.environ, JAX_COMPILATION_CACHE_DIR=str(tmp_path_factory.mktemp("jax_cache")), JAX_PLATFORMS="cpu")


def _launch(processes, devices, workdir, env, *extra, command=None):
    command = command or ["train.py", *ARGS, f"--workdir={workdir}", *extra]
    return subprocess.Popen([sys.executable, "-m", "bigcodec_jax.launch", "--processes", str(processes),
                             "--devices-per-process", str(devices), "--", sys.executable, *command],
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(proc, status=0, timeout=900):
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == status, out[-4000:]
    return out


def _process_pid(launcher, index):
    """The pid of the launched process with JAX_PROCESS_ID=index."""
    with open(f"/proc/{launcher.pid}/task/{launcher.pid}/children") as f:
        children = [int(p) for p in f.read().split()]
    for pid in children:
        with open(f"/proc/{pid}/environ", "rb") as f:
            if f"JAX_PROCESS_ID={index}".encode() in f.read().split(b"\0"):
                return pid
    raise AssertionError(f"no process {index} among {children}")


def _wait_for_checkpoint(workdir, step, proc, timeout=900):
    deadline = time.time() + timeout
    while not os.path.isdir(os.path.join(workdir, "checkpoints", str(step))):
        assert proc.poll() is None, proc.communicate()[0][-4000:]
        assert time.time() < deadline, "no checkpoint appeared"
        time.sleep(0.2)


def _checkpoint_steps(workdir):
    return sorted(int(d) for d in os.listdir(os.path.join(workdir, "checkpoints")) if d.isdigit())


def _saved_state(workdir, step):
    """A checkpoint's state as {path: numpy array}, whatever the topology that wrote it."""
    path = os.path.join(workdir, "checkpoints", str(step), "state")
    checkpointer = ocp.StandardCheckpointer()
    device = jax.sharding.SingleDeviceSharding(jax.devices()[0])
    target = jax.tree.map(lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=device),
                          checkpointer.metadata(path).item_metadata)
    return by_path(checkpointer.restore(path, target))


def _assert_identical(a, b):
    assert sorted(a) == sorted(b)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


@pytest.fixture(scope="module")
def two_by_two(tmp_path_factory, env):
    """An uninterrupted run: 2 processes x 2 devices."""
    workdir = str(tmp_path_factory.mktemp("two_by_two"))
    return workdir, _finish(_launch(2, 2, workdir, env))


@pytest.fixture(scope="module")
def one_by_four(tmp_path_factory, env):
    """The same run: 1 process x 4 devices."""
    workdir = str(tmp_path_factory.mktemp("one_by_four"))
    return workdir, _finish(_launch(1, 4, workdir, env))


def test_two_processes_give_the_losses_of_one(two_by_two, one_by_four):
    (two, out), (one, _) = two_by_two, one_by_four
    rows_two, rows_one = read_metrics(two), read_metrics(one)
    assert [r["step"] for r in rows_two] == [r["step"] for r in rows_one] == list(range(1, STEPS + 1))
    worst = max(abs(a[k] - b[k]) / abs(b[k]) for a, b in zip(rows_two, rows_one) for k in a if k.startswith("loss/"))
    assert worst <= 1e-6, worst  # measured 1.8e-7: gloo sums in another order than one process does
    assert "[0] train:" in out and "[1] train:" not in out  # only process 0 logs
    assert _checkpoint_steps(two) == [1, 3, 6]  # Orbax always saves the first step


def test_sigterm_to_one_process_saves_everywhere_and_resumes_exactly(two_by_two, tmp_path, env):
    workdir = str(tmp_path)
    proc = _launch(2, 2, workdir, env, "--config.num_steps=1000", "--config.checkpoint.every_steps=1000")
    _wait_for_checkpoint(workdir, 1, proc)  # Orbax always saves the first step: the loop is running
    os.kill(_process_pid(proc, 1), signal.SIGTERM)
    out = _finish(proc, status=errors.PREEMPTED)
    stopped = [line.split("stopped at step ")[1].split()[0] for line in out.splitlines() if "stopped at step" in line]
    assert len(stopped) == 2 and stopped[0] == stopped[1], out[-3000:]  # both processes, the same step
    step = int(stopped[0])
    assert step in _checkpoint_steps(workdir) and step < STEPS
    _finish(_launch(2, 2, workdir, env))
    _assert_identical(_saved_state(workdir, STEPS), _saved_state(two_by_two[0], STEPS))


def test_kill_9_of_one_process_ends_the_job_and_resumes_exactly(two_by_two, tmp_path, env):
    workdir = str(tmp_path)
    proc = _launch(2, 2, workdir, env, "--config.num_steps=1000")
    _wait_for_checkpoint(workdir, 3, proc)
    killed = time.monotonic()
    os.kill(_process_pid(proc, 1), signal.SIGKILL)
    out, _ = proc.communicate(timeout=120)
    ended = time.monotonic() - killed
    assert proc.returncode == 128 + signal.SIGKILL, out[-3000:]
    assert ended < NOTICE_SECONDS, f"the job took {ended:.1f} s to end after kill -9"
    last = _checkpoint_steps(workdir)[-1]
    assert last in (3, STEPS)  # the last complete checkpoint; one being written when killed is not listed
    _assert_identical(_saved_state(workdir, last), _saved_state(two_by_two[0], last))
    out = _finish(_launch(2, 2, workdir, env))
    _assert_identical(_saved_state(workdir, STEPS), _saved_state(two_by_two[0], STEPS))


@pytest.mark.parametrize("written_by, restored_in", [("two_by_two", (1, 4)), ("one_by_four", (2, 2))])
def test_checkpoints_restore_under_another_process_count(request, tmp_path, env, written_by, restored_in):
    workdir = request.getfixturevalue(written_by)[0]
    out = str(tmp_path / "restored")
    _finish(_launch(*restored_in, None, env, command=[os.path.join(ROOT, "tests", "scripts", "restore_check.py"),
                                                      workdir, "3", out]))
    restored = np.load(os.path.join(out, "state.npz"))
    _assert_identical({name: restored[name] for name in restored.files}, _saved_state(workdir, 3))
    parts = [np.load(os.path.join(out, f"data-{p}.npz")) for p in range(restored_in[0])]
    assert all(int(p["batches"]) == 3 for p in parts)
    # the next global batch: positions 12..15, host p taking every P-th; the same whoever wrote the checkpoint
    batch = np.zeros((4, parts[0]["batch"].shape[1]), np.float32)
    for p, part in enumerate(parts):
        batch[p::len(parts)] = part["batch"]
    reference = iter(data.train_loader(fast_config().data, 4, fast_config().seed, process_index=0, process_count=1))
    reference.set_state({"batches": 3, "bad_examples": 0, "examples_read": 12})
    np.testing.assert_array_equal(batch, next(reference)["wav"])


def test_a_batch_that_does_not_divide_among_the_processes_is_a_usage_error_naming_the_key(tmp_path, env):
    workdir = tmp_path / "run"
    out = _finish(_launch(2, 1, workdir, env, "--config.batch_size=3"), status=errors.USAGE, timeout=300)
    assert "[0] error: config.batch_size: the global batch of 3 does not divide among the 2 processes" in out
    assert "Traceback" not in out and not workdir.exists()  # refused before the workdir was made
