"""train.py end to end on the packaged corpus: checkpoints, exact resume after a kill and after
SIGTERM, and start-up config errors. Runs share a persistent compilation cache so the train step
is compiled once for the whole module."""
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
from bigcodec_jax.configs import small
from bigcodec_jax.training import config as train_config
from conftest import read_until
from run_configs.fast import get_config as fast_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEPS = fast_config().num_steps
ARGS = ["--config", os.path.join(ROOT, "tests", "run_configs", "fast.py")]  # 6 steps, checkpoints every 3


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    return dict(os.environ, JAX_COMPILATION_CACHE_DIR=str(tmp_path_factory.mktemp("jax_cache")),
                JAX_PLATFORMS="cpu")


def _start(workdir, env, *extra):
    return subprocess.Popen([sys.executable, os.path.join(ROOT, "train.py"), *ARGS, f"--workdir={workdir}", *extra],
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(proc, timeout=900, status=0):
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == status, out[-3000:]
    return out


def _wait_for_checkpoint(workdir, step, proc, timeout=900):
    path = os.path.join(workdir, "checkpoints", str(step))
    deadline = time.time() + timeout
    while not os.path.isdir(path):
        assert proc.poll() is None, proc.communicate()[0][-3000:]
        assert time.time() < deadline, "no checkpoint appeared"
        time.sleep(0.5)


def _saved_state(workdir, step):
    tree = ocp.StandardCheckpointer().restore(os.path.join(workdir, "checkpoints", str(step), "state"))
    return jax.tree.map(np.asarray, tree)


def _checkpoint_steps(workdir):
    return sorted(int(d) for d in os.listdir(os.path.join(workdir, "checkpoints")) if d.isdigit())


@pytest.fixture(scope="module")
def straight(tmp_path_factory, env):
    workdir = str(tmp_path_factory.mktemp("straight"))
    out = _finish(_start(workdir, env))
    return workdir, out


def _assert_same_run(workdir_a, workdir_b):
    a, b = _saved_state(workdir_a, STEPS), _saved_state(workdir_b, STEPS)
    assert int(a["step"]) == int(b["step"]) == STEPS
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_array_equal(x, y)


def test_straight_run_writes_checkpoints_and_logs(straight):
    workdir, out = straight
    assert _checkpoint_steps(workdir)[-1] == STEPS
    assert os.path.isfile(os.path.join(workdir, "config.json"))
    events = os.listdir(os.path.join(workdir, "tensorboard"))
    assert events and os.path.getsize(os.path.join(workdir, "tensorboard", events[0])) > 1000
    state = _saved_state(workdir, STEPS)
    assert all(np.all(np.isfinite(x)) for x in jax.tree.leaves(state) if np.issubdtype(x.dtype, np.inexact))


def test_killed_run_resumes_exactly(straight, tmp_path, env):
    workdir = str(tmp_path)
    proc = _start(workdir, env)
    _wait_for_checkpoint(workdir, 3, proc)
    time.sleep(1.0)  # let the asynchronous save finalise
    proc.kill()
    proc.wait()
    assert 3 in _checkpoint_steps(workdir)
    out = _finish(_start(workdir, env))
    assert "resumed from step" in out
    _assert_same_run(straight[0], workdir)


def test_sigterm_checkpoints_then_resumes_exactly(straight, tmp_path, env):
    workdir = str(tmp_path)
    proc = _start(workdir, env, "--config.checkpoint.every_steps=1000")
    _wait_for_checkpoint(workdir, 1, proc)  # Orbax always saves the first step: the loop is running
    proc.send_signal(signal.SIGTERM)
    out = _finish(proc, status=errors.PREEMPTED)  # "preempted, saved": not 0, so no scheduler takes it as done
    assert "SIGTERM received" in out
    stopped_at = _checkpoint_steps(workdir)[-1]
    assert 1 <= stopped_at <= STEPS
    _finish(_start(workdir, env))
    _assert_same_run(straight[0], workdir)


@pytest.mark.parametrize("launcher", [[], [sys.executable, "-m", "bigcodec_jax.launch", "--processes", "1", "--"]],
                         ids=["alone", "launched"])
def test_sigterm_during_the_first_compile_ends_the_run_at_once(tmp_path, env, launcher):
    """A preemption at start-up: status 143 within seconds, not the rest of the compile and a segfault
    (an interrupted compile went on in JAX's threads while the interpreter's teardown destroyed the client),
    nor, under the launcher, the run going on (JAX's preemption service took SIGTERM from the start)."""
    env = dict(env, JAX_COMPILATION_CACHE_DIR=str(tmp_path / "cache"), JAX_LOG_COMPILES="1")  # a real compile
    proc = subprocess.Popen([*launcher, sys.executable, os.path.join(ROOT, "train.py"), *ARGS,
                             f"--workdir={tmp_path / 'run'}"], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        # the fresh state's compile, the first; jax_log_compiles says when XLA gets the module
        seen = read_until(proc.stdout, "Finished jaxpr to MLIR module conversion jit(init)", timeout=300)
        time.sleep(1.0)  # well into XLA's compile, which takes 10 s or more
        proc.send_signal(signal.SIGTERM)
        start = time.monotonic()
        rest = proc.communicate(timeout=30)[0].decode(errors="replace")
        took = time.monotonic() - start
    finally:
        proc.kill()
    out = seen + rest
    assert proc.returncode == errors.TERMINATED, out[-3000:]
    assert took < 10, out[-3000:]
    assert "interrupted (SIGTERM)" in out and "Segmentation fault" not in out and "Fatal Python error" not in out


@pytest.mark.parametrize("key, value, message", [
    ("batch_size", 0, "config.batch_size"),
    ("compute_dtype", "float16", "config.compute_dtype"),
    ("num_steps", -1, "config.num_steps"),
    ("eval_every_steps", -1, "config.eval_every_steps: must be a positive integer, or 0 for never"),
])
def test_bad_config_values_are_named(key, value, message):
    config = small.get_config()
    config[key] = value
    with pytest.raises(ValueError, match=message):
        train_config.validate(config)


def test_bad_nested_values_are_named():
    config = small.get_config()
    config.data.segment_samples = 16001
    with pytest.raises(ValueError, match="config.data.segment_samples"):
        train_config.validate(config)
    config = small.get_config()
    config.schedule.peak_lr = 0.0
    with pytest.raises(ValueError, match="config.schedule.peak_lr"):
        train_config.validate(config)


def test_cli_reports_config_error_and_exits_1(env, tmp_path):
    result = subprocess.run([sys.executable, os.path.join(ROOT, "train.py"), *ARGS, f"--workdir={tmp_path}",
                             "--config.mesh.fsdp=3"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert "config.mesh" in result.stderr


def test_bfloat16_trains_without_skipped_updates(tmp_path, env):
    """bfloat16 compute (float32 master weights): every update applied and the state stays finite."""
    workdir = str(tmp_path)
    _finish(_start(workdir, env, "--config.compute_dtype=bfloat16", "--config.matmul_precision=default"))
    state = _saved_state(workdir, STEPS)
    assert int(state["nonfinite_total"]) == 0
    assert state["gen_params"]["decoder"]["conv_out"]["v"].dtype == np.float32
    assert all(np.all(np.isfinite(x)) for x in jax.tree.leaves(state) if np.issubdtype(x.dtype, np.inexact))


@pytest.mark.parametrize("source, relative", [("dir", "train"), ("list", "train.txt")])
def test_trains_from_a_folder_and_a_file_list(tmp_path, env, source, relative):
    path = os.path.join(data.corpus_dir(), relative)
    _finish(_start(str(tmp_path), env, f"--config.data.source={source}", f"--config.data.path={path}",
                   "--config.num_steps=2"))
    assert _checkpoint_steps(str(tmp_path)) == [1, 2]


def test_examples_and_evaluation_set_to_0_never_run_and_need_no_held_out_data(tmp_path, env):
    workdir, missing = str(tmp_path / "run"), str(tmp_path / "no_such_folder")
    _finish(_start(workdir, env, "--config.num_steps=2", "--config.examples_every_steps=0",
                   "--config.eval_every_steps=0", "--config.data.eval.source=dir", f"--config.data.eval.path={missing}"))
    assert _checkpoint_steps(workdir) == [1, 2]
    logged = open(os.path.join(workdir, "metrics.jsonl")).read()
    assert '"loss/gen"' in logged and "eval/" not in logged
    # the same held-out folder is an error as soon as it is needed: a usage error (2) found before the workdir is made
    proc = _start(str(tmp_path / "other"), env, "--config.num_steps=2", "--config.eval_every_steps=2",
                  "--config.data.eval.source=dir", f"--config.data.eval.path={missing}")
    assert "config.data.eval.path" in _finish(proc, status=2) and not os.path.exists(tmp_path / "other")


def test_trains_from_tfds_mock_data(tmp_path):
    import tensorflow_datasets as tfds

    from bigcodec_jax.data import tfds_source  # noqa: F401  (tfds Audio features without TensorFlow)
    from bigcodec_jax.training import trainer

    config = fast_config()
    config.num_steps = 2
    config.data.source, config.data.split = "tfds:librispeech", "train_clean100+train_clean360+train_other500"
    config.data.eval.source, config.data.eval.split, config.data.eval.batch_size = "tfds:librispeech", "test_clean", 2
    with tfds.testing.mock_data(num_examples=6, policy=tfds.testing.MockPolicy.USE_CODE):
        state = trainer.train(config, str(tmp_path))
    assert int(state.step) == 2 and int(state.nonfinite_total) == 0
    assert _checkpoint_steps(str(tmp_path))[-1] == 2


def test_a_run_directory_is_a_checkpoint(straight):
    """Train -> listen: `from_pretrained(workdir)` gives the latest step's generator, `step=` an earlier one."""
    from bigcodec_jax import BigCodec
    from bigcodec_jax.checkpoints.torch_zip import CheckpointError

    workdir, _ = straight
    for step in (STEPS, 3):
        codec = BigCodec.from_pretrained(workdir, step=None if step == STEPS else step)
        saved = _saved_state(workdir, step)["gen_params"]
        assert jax.tree.structure(codec.params) == jax.tree.structure(saved)
        for got, want in zip(jax.tree.leaves(codec.params), jax.tree.leaves(saved)):
            np.testing.assert_array_equal(np.asarray(got), want)
    with pytest.raises(CheckpointError, match="no checkpoint of step 4"):
        BigCodec.from_pretrained(workdir, step=4)


def test_a_run_directory_converts_and_exports(straight, tmp_path):
    """-> release: convert_torch_ckpt.py takes a run directory, to a converted directory and (--to-torch) to the
    official layout with both discriminators; reading either back gives the run's parameters exactly."""
    from bigcodec_jax.checkpoints import pretrained
    from bigcodec_jax.convert import main as convert_main

    workdir, _ = straight
    saved = _saved_state(workdir, STEPS)
    assert convert_main(["--to-torch", workdir, str(tmp_path / "run.pt")]) == 0
    assert convert_main([workdir, str(tmp_path / "converted")]) == 0
    exported = pretrained.load(str(tmp_path / "run.pt"))[1]  # its tests/run_configs/fast.py model config is embedded
    converted = pretrained.load(str(tmp_path / "converted"))[1]
    for params in (exported, converted):
        for part, field in (("generator", "gen_params"), ("discriminators", "disc_params")):
            assert jax.tree.structure(params[part]) == jax.tree.structure(saved[field])
            for got, want in zip(jax.tree.leaves(params[part]), jax.tree.leaves(saved[field])):
                np.testing.assert_array_equal(got, want)
