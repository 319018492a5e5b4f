"""`train.py` run directories: their layout, the recorded config a resume must keep, and their checkpoints
read as checkpoints (train -> listen -> release without a conversion step).

Layout of a run directory (written by `training/trainer.py` and `training/checkpointing.py`):
    config.json                  the whole training config; its `model` section is the model config
    checkpoints/<step>/state/    Orbax tree of the train state (`gen_params`, `disc_params`, optimisers, ...)
    checkpoints/<step>/data/     the data iterator position
Only the parameters are read, without the optimiser states (partial restore, as numpy arrays).

The resume guard lives here, beside the layout it reads, rather than in `training/`: this module owns
what a run directory holds, and reading a run (`model_config`) and resuming one (`record_config`)
must agree on it. `record_config(config, workdir)` runs at start-up before anything is written to
the workdir. In a run that has checkpoints it compares the new config with the recorded one and
refuses a different one with every differing key named (`errors.UsageError`), leaving `config.json`
as it was; otherwise it writes the config (atomically). Keys in `RESUMABLE` may differ: they change
how long the run goes on, how it logs, saves and evaluates, and how it is laid out on devices or
reads its data, but not what it trains, so a resumed run stays the continuation of the recorded one:
    num_steps, schedule.decay_steps   train longer (the demo stretches its decay with --steps)
    log_every_steps, examples_every_steps, eval_every_steps, data.eval.*   logging and held-out evaluation
    checkpoint.*, max_consecutive_nonfinite   when to save, how many to keep, when to give up
    mesh.*, sharding.*   the device layout (resume on another slice or host count)
    data.tfds_data_dir, data.workers, data.read_threads, data.prefetch_batches, data.max_bad_fraction
                         where and how fast the same data is read
Everything else (the model, losses, optimiser, learning rates, seed, batch size, data source and crops,
precision, init_from) is fixed for the life of a run: train a different config in a new workdir,
starting from this run's weights with `--config.init_from=WORKDIR` if wanted.
"""
from __future__ import annotations

import contextlib
import json
import os
from typing import Any

import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp
from absl import logging as absl_logging

from bigcodec_jax.checkpoints.official import embedded_config
from bigcodec_jax.checkpoints.torch_zip import CheckpointError
from bigcodec_jax.codec import config as config_lib
from bigcodec_jax.errors import InputError, UsageError
from bigcodec_jax.io import paths, staged

CONFIG_FILE = "config.json"
CHECKPOINTS_DIR = "checkpoints"
STATE_ITEM = "state"
DATA_ITEM = "data_position"  # JSON: the global batch count and bad-example counters
# Parts of a converted checkpoint -> fields of the train state that hold them.
PARAMS_FIELDS = {"generator": "gen_params", "discriminators": "disc_params"}


def is_run(path: str | os.PathLike) -> bool:
    return paths.isfile(paths.join(path, CONFIG_FILE)) and paths.isdir(paths.join(path, CHECKPOINTS_DIR))


def steps(path: str | os.PathLike) -> list[int]:
    """The steps of the run's complete (finalised) checkpoints, oldest first."""
    return sorted(ocp.utils.checkpoint_steps(paths.join(paths.absolute(path), CHECKPOINTS_DIR)))


@contextlib.contextmanager
def _quiet_orbax():
    """Orbax warns that a composite checkpoint's item has no metadata file of its own: nothing a user can act on."""
    verbosity = absl_logging.get_verbosity()
    absl_logging.set_verbosity(absl_logging.ERROR)
    try:
        yield
    finally:
        absl_logging.set_verbosity(verbosity)


def model_config(path: str | os.PathLike) -> ml_collections.ConfigDict:
    """The model section of the run's training config, validated."""
    config_file = paths.join(path, CONFIG_FILE)
    try:
        training = json.loads(paths.read_bytes(config_file))
    except (ValueError, RecursionError) as e:  # JSONDecodeError, bytes that are not UTF-8, absurd nesting
        raise CheckpointError(f"{config_file} is not a JSON training config ({type(e).__name__}: "
                              f"{str(e)[:200]})") from None
    if not isinstance(training, dict) or "model" not in training:
        raise CheckpointError(f"{config_file} is not a training config: it has no model section")
    return embedded_config(training["model"], f"{config_file} (its model section)")


def load(path: str | os.PathLike, step: int | None = None) -> tuple[ml_collections.ConfigDict, dict[str, Any]]:
    """(model config, {"generator": ..., "discriminators": ...}) of the run's checkpoint at `step` (default:
    the latest), as numpy arrays."""
    path = paths.absolute(path)
    available = steps(path)
    if not available:
        raise CheckpointError(f"the training run {path} has no complete checkpoint yet")
    step = available[-1] if step is None else step
    if step not in available:
        raise CheckpointError(f"the training run {path} has no checkpoint of step {step} "
                              f"(it has {', '.join(map(str, available))})")
    config = model_config(path)
    state_dir = paths.join(path, CHECKPOINTS_DIR, str(step), STATE_ITEM)
    checkpointer = ocp.PyTreeCheckpointer()
    try:
        with _quiet_orbax():
            saved = checkpointer.metadata(state_dir).item_metadata.tree
            item = {field: jax.tree.map(lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype), saved[field])
                    for field in PARAMS_FIELDS.values()}
            restore_args = jax.tree.map(lambda _: ocp.RestoreArgs(restore_type=np.ndarray), item)
            restored = checkpointer.restore(state_dir, args=ocp.args.PyTreeRestore(
                item=item, restore_args=restore_args, partial_restore=True))
    except Exception as e:  # a damaged Orbax tree: Orbax and TensorStore raise many types
        raise CheckpointError(f"the checkpoint of step {step} in {path} cannot be read ({type(e).__name__}: "
                              f"{' '.join(str(e).split())[:300]})") from None
    return config, {part: restored[field] for part, field in PARAMS_FIELDS.items()}


# ---------------------------------------------------------------- the recorded config (resume guard)

RESUMABLE = ("num_steps", "schedule.decay_steps", "log_every_steps", "examples_every_steps", "eval_every_steps",
             "data.eval", "checkpoint", "max_consecutive_nonfinite", "mesh", "sharding", "data.tfds_data_dir",
             "data.workers", "data.read_threads", "data.prefetch_batches", "data.max_bad_fraction")
SHOWN_DIFFERENCES = 8
_MISSING = "(missing)"


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _resumable(key: str) -> bool:
    return any(key == prefix or key.startswith(prefix + ".") for prefix in RESUMABLE)


def config_differences(recorded: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(dotted key, recorded value, new value) of every key that differs and may not change on resume."""
    old, now = _flatten(recorded), _flatten(new)
    return [(key, old.get(key, _MISSING), now.get(key, _MISSING)) for key in sorted(set(old) | set(now))
            if old.get(key, _MISSING) != now.get(key, _MISSING) and not _resumable(key)]


def _has_checkpoints(workdir: str) -> bool:
    """Whether the run saved a step (a finished Orbax step is a folder named by its number)."""
    folder = paths.join(workdir, CHECKPOINTS_DIR)
    return paths.isdir(folder) and any(name.isdigit() for name in paths.listdir(folder))


def _recorded(workdir: str) -> dict[str, Any] | None:
    """The recorded config of a run that has checkpoints, else None (nothing to resume)."""
    if not is_run(workdir) or not _has_checkpoints(workdir):
        return None
    path = paths.join(workdir, CONFIG_FILE)
    try:
        recorded = json.loads(paths.read_text(path))
    except (OSError, ValueError) as e:
        raise InputError(f"{path} cannot be read ({e}): it records the config of the run in {workdir}") from None
    if not isinstance(recorded, dict):
        raise InputError(f"{path} does not hold a training config")
    return recorded


def record_config(config: ml_collections.ConfigDict, workdir: str, write: bool = True) -> None:
    """Refuse a config that differs from the recorded one of a run with checkpoints (keys named); then write it
    to `workdir/config.json` when `write` (process 0 of a multi-process run)."""
    new = json.loads(config_lib.to_json(config))
    recorded = _recorded(workdir)
    if recorded is not None:
        diffs = config_differences(recorded, new)
        if diffs:
            shown = "; ".join(f"{key}: {old!r} in the run, {value!r} now" for key, old, value in diffs[:SHOWN_DIFFERENCES])
            more = f" (and {len(diffs) - SHOWN_DIFFERENCES} more)" if len(diffs) > SHOWN_DIFFERENCES else ""
            raise UsageError(
                f"{workdir} holds a run with another config, which a resumed run must keep: {shown}{more}. "
                f"Only {', '.join(RESUMABLE)} may change when resuming; train this config in a new --workdir "
                f"(with --config.init_from={workdir} to start from this run's weights)")
    paths.makedirs(workdir)
    if write:
        staged.write_text(paths.join(workdir, CONFIG_FILE), config_lib.to_json(config))
