"""The one check of a training config, before anything runs: `validate(config)`.

A training config is what a `configs/<name>.py` file's `get_config()` returns (configs/base.py writes
out every field, the paper recipe); any field can be overridden on the command line
(`--config.batch_size=16`). train.py, the demo and `benchmark train` check it here: the model through
the codec's checks (`codec.config.validate`), the data through the data pipeline's
(`data.config.validate`), and the training fields below. The first bad value raises `ConfigError`
named as its override flag would name it (`config.data.segment_samples: ...`).
"""
from __future__ import annotations

import re

import ml_collections

from bigcodec_jax.codec import config as model_config_lib
from bigcodec_jax.data import config as data_config_lib
from bigcodec_jax.errors import ConfigError
from bigcodec_jax.io import paths

COMPUTE_DTYPES = ("float32", "bfloat16")
MATMUL_PRECISIONS = ("default", "high", "highest")


def _fail(key: str, message: str) -> None:
    raise ConfigError(f"config.{key}", message)


def validate(config: ml_collections.ConfigDict) -> None:
    """Raise `ConfigError` naming the key of the first bad value (`config.<dotted key>`)."""
    try:
        model_config_lib.validate(config.model)
    except ConfigError as e:
        raise e.under("config.model") from None
    for key in ("batch_size", "num_steps", "log_every_steps", "max_consecutive_nonfinite"):
        if not isinstance(config[key], int) or config[key] <= 0:
            _fail(key, f"must be a positive integer, got {config[key]!r}")
    for key in ("examples_every_steps", "eval_every_steps"):
        if not isinstance(config[key], int) or config[key] < 0:
            _fail(key, f"must be a positive integer, or 0 for never, got {config[key]!r}")
    try:
        data_config_lib.validate(config.data)  # keys named from the training config's root (`data.<key>`)
    except ConfigError as e:
        raise e.under("config") from None
    hop = model_config_lib.hop_length(config.model)
    if config.data.segment_samples % hop:
        _fail("data.segment_samples", f"{config.data.segment_samples} is not a multiple of the hop length {hop}")
    if config.compute_dtype not in COMPUTE_DTYPES:
        _fail("compute_dtype", f"must be one of {COMPUTE_DTYPES}, got {config.compute_dtype!r}")
    if config.matmul_precision not in MATMUL_PRECISIONS:
        _fail("matmul_precision", f"must be one of {MATMUL_PRECISIONS}, got {config.matmul_precision!r}")
    for key in ("initial_lr", "peak_lr", "final_lr"):
        if not config.schedule[key] > 0:
            _fail(f"schedule.{key}", f"must be positive, got {config.schedule[key]!r}")
    for key in ("warmup_steps", "decay_steps"):
        if config.schedule[key] < 0:
            _fail(f"schedule.{key}", f"must not be negative, got {config.schedule[key]!r}")
    for key in ("b1", "b2"):
        if not 0 <= config.optimizer[key] < 1:
            _fail(f"optimizer.{key}", f"must be in [0, 1), got {config.optimizer[key]!r}")
    if not config.optimizer.clip_norm > 0:
        _fail("optimizer.clip_norm", f"must be positive, got {config.optimizer.clip_norm!r}")
    for key in ("data", "fsdp"):
        if not isinstance(config.mesh[key], int) or (config.mesh[key] < 1 and config.mesh[key] != -1):
            _fail(f"mesh.{key}", f"must be a positive integer or -1, got {config.mesh[key]!r}")
    if config.mesh.data == -1 and config.mesh.fsdp == -1:
        _fail("mesh", "at most one axis may be -1")
    for key in ("every_steps", "keep"):
        if not isinstance(config.checkpoint[key], int) or config.checkpoint[key] <= 0:
            _fail(f"checkpoint.{key}", f"must be a positive integer, got {config.checkpoint[key]!r}")
    _validate_sharding(config.sharding)


def check_paths(config: ml_collections.ConfigDict) -> None:
    """ConfigError naming the key of a path the run would read that does not exist (UsageError from
    `pretrained.check_source` for `init_from`): `init_from`, `data.path`,
    and `data.eval.path` when held-out examples or evaluations are on. train.py checks them before it creates
    anything in the workdir; a path that exists but cannot be read is found when it is read."""
    from bigcodec_jax.checkpoints import pretrained  # Orbax and the readers: not for the config files' imports

    if config.init_from:
        pretrained.check_source(config.init_from, "config.init_from")
    uses_eval = config.examples_every_steps > 0 or config.eval_every_steps > 0
    for key, data in (("data", config.data), ("data.eval", config.data.eval if uses_eval else None)):
        if data is not None and data.source in ("dir", "list") and not paths.exists(data.path):
            _fail(f"{key}.path", f"{data.path}: no such {'folder' if data.source == 'dir' else 'file list'}")


def check_processes(config: ml_collections.ConfigDict, process_count: int) -> None:
    """ConfigError naming `batch_size` when the global batch does not divide among the job's processes."""
    if config.batch_size % process_count:
        _fail("batch_size", f"the global batch of {config.batch_size} does not divide among the {process_count} "
                            f"processes; make it a multiple of {process_count}")


def _validate_sharding(sharding: ml_collections.ConfigDict) -> None:
    if not isinstance(sharding.min_shard_size, int) or sharding.min_shard_size < 0:
        _fail("sharding.min_shard_size", f"must be a non-negative integer, got {sharding.min_shard_size!r}")
    for i, rule in enumerate(sharding.rules):
        if not (isinstance(rule, (tuple, list)) and len(rule) == 2 and isinstance(rule[0], str)
                and isinstance(rule[1], int)):
            _fail(f"sharding.rules[{i}]", f"must be a (regex, axis) pair, got {rule!r}")
        try:
            re.compile(rule[0])
        except re.error as e:
            _fail(f"sharding.rules[{i}]", f"bad regex {rule[0]!r} ({e})")
