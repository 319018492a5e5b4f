"""Training configuration: the official recipe as defaults, and start-up validation with keys named.

Config files in `configs/` call `recipe(variant)` and override what differs; every field can be
overridden on the command line (`--config.batch_size=16`).
"""
from __future__ import annotations

import re

import ml_collections

from bigcodec_jax import config as model_config_lib
from bigcodec_jax.data import config as data_config_lib
from bigcodec_jax.io import paths
from bigcodec_jax.nn.spectral import mel_distance_config

COMPUTE_DTYPES = ("float32", "bfloat16")
MATMUL_PRECISIONS = ("default", "high", "highest")


def recipe(variant: str = "full") -> ml_collections.ConfigDict:
    """The paper's recipe (official-model.md) around the model variant `variant`."""
    from bigcodec_jax import data  # the data pipeline owns its own defaults

    c = ml_collections.ConfigDict()
    c.model = model_config_lib.model_config(variant)
    c.seed = 1024
    c.batch_size = 8                 # global batch, split over hosts and the mesh's batch axes
    c.num_steps = 1_200_000
    c.compute_dtype = "float32"      # or bfloat16: float32 master weights, losses and mel features
    c.matmul_precision = "highest"   # float32 matmuls/convs at full precision (no TF32 passes on GPU)
    c.init_from = ""                 # an official .pt / Lightning .ckpt or a converted directory
    c.loss = ml_collections.ConfigDict(dict(lambda_mel=15.0, lambda_adv=1.0, lambda_feat_match=1.0,
                                            lambda_disc=1.0, mel=mel_distance_config()))
    c.optimizer = ml_collections.ConfigDict(dict(b1=0.8, b2=0.9, eps=1e-8, weight_decay=0.01, clip_norm=1.0))
    c.schedule = ml_collections.ConfigDict(dict(initial_lr=1e-5, peak_lr=1e-4, final_lr=1e-5,
                                                warmup_steps=1000, decay_steps=500_000))
    # Mesh: `data` splits the batch, `fsdp` splits the batch too and shards parameters by rule.
    # -1 takes the remaining devices.
    c.mesh = ml_collections.ConfigDict(dict(data=-1, fsdp=1))
    # Which tensors split over the mesh's `fsdp` axis (training/sharding.py): the first rule (regex on the
    # tensor's path "a/b/c", axis) that matches; weight-norm directions and LSTM kernels split their output
    # axis, codebooks their entries. Smaller tensors, and those whose axis does not divide, stay replicated.
    c.sharding = ml_collections.ConfigDict(dict(
        min_shard_size=2 ** 16, rules=((r"(^|/)v$", -1), (r"kernel_(ih|hh)$", -1), (r"codebook$", 0))))
    c.data = data.default_config()   # data.segment_samples: 1 s crops (a multiple of the hop length)
    c.checkpoint = ml_collections.ConfigDict(dict(every_steps=5000, keep=3, async_save=True))
    c.log_every_steps = 50
    c.examples_every_steps = 5000    # audio + mel images of the held-out batch in TensorBoard (0: never)
    c.eval_every_steps = 5000        # fast metrics of the held-out utterances (data.eval) as eval/... (0: never)
    c.max_consecutive_nonfinite = 20  # skipped updates in a row before the run stops
    return c


def _fail(key: str, message: str) -> None:
    raise ValueError(f"config.{key}: {message}")


def validate(config: ml_collections.ConfigDict) -> None:
    """Raise ValueError naming the key of the first bad value."""
    try:
        model_config_lib.validate(config.model)
    except ValueError as e:
        raise ValueError(f"config.model: {e}") from None
    for key in ("batch_size", "num_steps", "log_every_steps", "max_consecutive_nonfinite"):
        if not isinstance(config[key], int) or config[key] <= 0:
            _fail(key, f"must be a positive integer, got {config[key]!r}")
    for key in ("examples_every_steps", "eval_every_steps"):
        if not isinstance(config[key], int) or config[key] < 0:
            _fail(key, f"must be a positive integer, or 0 for never, got {config[key]!r}")
    try:
        data_config_lib.validate(config.data)
    except ValueError as e:
        raise ValueError(f"config.{e}") from None
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
    """ValueError naming the key of a path the run would read that does not exist: `init_from`, `data.path`,
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
    """ValueError naming `batch_size` when the global batch does not divide among the job's processes."""
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
