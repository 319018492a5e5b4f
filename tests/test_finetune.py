"""configs/finetune.py through train.py: a run started from an official checkpoint (the committed golden micro.pt
in the released layout) takes its model config and weights, and moves them by the fine-tune's small learning rate."""
import importlib.util
import json
import os
import subprocess
import sys

import jax
import numpy as np
import orbax.checkpoint as ocp

from conftest import COMMITTED_SET, reference_path

from bigcodec_jax import data
from bigcodec_jax.checkpoints import pretrained

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(ROOT, "configs", "finetune.py")
CHECKPOINT = reference_path(COMMITTED_SET + ".pt")


def get_config():
    spec = importlib.util.spec_from_file_location("finetune_config", CONFIG)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config()


LR = get_config().schedule.peak_lr


def _train(workdir, *overrides):
    args = [sys.executable, os.path.join(ROOT, "train.py"), "--config", CONFIG,
            f"--workdir={workdir}", f"--config.data.path={os.path.join(data.corpus_dir(), 'train')}",
            "--config.num_steps=1", "--config.batch_size=2", "--config.data.segment_samples=4000", *overrides]
    return subprocess.run(args, cwd=ROOT, env=dict(os.environ, JAX_PLATFORMS="cpu"), capture_output=True, text=True,
                          timeout=900)


def test_config_is_a_short_constant_rate_finetune():
    config = get_config()
    schedule = config.schedule
    assert schedule.initial_lr == schedule.peak_lr == schedule.final_lr == LR <= 1e-4
    assert schedule.warmup_steps == 0 and config.num_steps <= 50_000 and config.data.source == "dir"


def test_finetune_starts_from_the_checkpoint(tmp_path):
    result = _train(tmp_path, f"--config.init_from={CHECKPOINT}")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    with open(tmp_path / "config.json") as f:
        assert json.load(f)["model"] == json.load(open(reference_path(COMMITTED_SET + ".json")))
    state = ocp.StandardCheckpointer().restore(str(tmp_path / "checkpoints" / "1" / "state"))
    _, official = pretrained.load(CHECKPOINT)
    moved = jax.tree.map(lambda a, b: np.max(np.abs(np.asarray(a) - b)), state["gen_params"], official["generator"])
    largest = max(jax.tree.leaves(moved))
    # One AdamW step moves each weight by about the learning rate (its first update is +-lr), never by more
    # than a few times it, so the run must have started from the checkpoint and updated it.
    assert 0 < largest < 3 * LR


def test_missing_checkpoint_is_named(tmp_path):
    result = _train(tmp_path, f"--config.init_from={tmp_path / 'missing.pt'}")
    assert result.returncode != 0
    assert "missing.pt" in result.stderr.splitlines()[-1]
