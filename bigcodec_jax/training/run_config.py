"""A run's `config.json`: the record of what the run trains, which a restart in the same workdir must match.

`record(config, workdir)` runs at start-up before anything is written to the workdir. In a run that has
checkpoints it compares the new config with the recorded one and refuses a different one with every
differing key named (`errors.UsageError`), leaving `config.json` as it was; otherwise it writes the
config (atomically). Keys in `RESUMABLE` may differ: they change how long the run goes on, how it
logs, saves and evaluates, and how it is laid out on devices or reads its data, but not what it
trains, so a resumed run stays the continuation of the recorded one:
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

import json
from typing import Any

import ml_collections

from bigcodec_jax.checkpoints import run_dir
from bigcodec_jax.config import to_json
from bigcodec_jax.errors import InputError, UsageError
from bigcodec_jax.io import paths, staged

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


def differences(recorded: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(dotted key, recorded value, new value) of every key that differs and may not change on resume."""
    old, now = _flatten(recorded), _flatten(new)
    return [(key, old.get(key, _MISSING), now.get(key, _MISSING)) for key in sorted(set(old) | set(now))
            if old.get(key, _MISSING) != now.get(key, _MISSING) and not _resumable(key)]


def _has_checkpoints(workdir: str) -> bool:
    """Whether the run saved a step (a finished Orbax step is a folder named by its number)."""
    folder = paths.join(workdir, run_dir.CHECKPOINTS_DIR)
    return paths.isdir(folder) and any(name.isdigit() for name in paths.listdir(folder))


def _recorded(workdir: str) -> dict[str, Any] | None:
    """The recorded config of a run that has checkpoints, else None (nothing to resume)."""
    if not run_dir.is_run(workdir) or not _has_checkpoints(workdir):
        return None
    path = paths.join(workdir, run_dir.CONFIG_FILE)
    try:
        recorded = json.loads(paths.read_text(path))
    except (OSError, ValueError) as e:
        raise InputError(f"{path} cannot be read ({e}): it records the config of the run in {workdir}") from None
    if not isinstance(recorded, dict):
        raise InputError(f"{path} does not hold a training config")
    return recorded


def record(config: ml_collections.ConfigDict, workdir: str, write: bool = True) -> None:
    """Refuse a config that differs from the recorded one of a run with checkpoints (keys named); then write it
    to `workdir/config.json` when `write` (process 0 of a multi-process run)."""
    new = json.loads(to_json(config))
    recorded = _recorded(workdir)
    if recorded is not None:
        diffs = differences(recorded, new)
        if diffs:
            shown = "; ".join(f"{key}: {old!r} in the run, {value!r} now" for key, old, value in diffs[:SHOWN_DIFFERENCES])
            more = f" (and {len(diffs) - SHOWN_DIFFERENCES} more)" if len(diffs) > SHOWN_DIFFERENCES else ""
            raise UsageError(
                f"{workdir} holds a run with another config, which a resumed run must keep: {shown}{more}. "
                f"Only {', '.join(RESUMABLE)} may change when resuming; train this config in a new --workdir "
                f"(with --config.init_from={workdir} to start from this run's weights)")
    paths.makedirs(workdir)
    if write:
        staged.write_text(paths.join(workdir, run_dir.CONFIG_FILE), to_json(config))
