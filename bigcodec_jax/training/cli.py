"""`python train.py --config configs/base.py --workdir DIR [--config.key=value ...]`.

Trains BigCodec with the official GAN recipe. Rerunning the same command continues exactly from
the newest checkpoint in DIR (parameters, both optimisers, step and data position) and reuses the
compiled step cached in DIR/compile_cache. Any config field can be overridden, e.g.
`--config.batch_size=16 --config.compute_dtype=bfloat16 --config.data.source=dir
--config.data.path=/data/wavs --config.init_from=bigcodec.pt`. Logs: DIR/tensorboard and
DIR/metrics.jsonl (one JSON line per logged step). On several hosts run the same command on every
host (see docs/scale.md); the environment says how the processes find each other.
A restart in DIR must keep the run's config (DIR/config.json): the keys that may change are listed in
bigcodec_jax/checkpoints/run_dir.py; a different config is refused with the keys named.
Exit status: 0 done; 75 preempted, saved (SIGTERM or Ctrl-C checkpointed the current step: rerun
the same command to continue); 1 the run cannot go on (bad data, diverged, an unreadable init_from,
a bad multi-process environment); 2 a bad command line (unknown flag or config key, bad value, an
init_from or data path that does not exist, a batch_size that does not divide among the processes,
a resume with another config), found before anything is written to the workdir.
"""
from __future__ import annotations

import contextlib
import logging
import sys
from typing import Iterator, NamedTuple

import jax

from absl import app, flags
from absl import logging as absl_logging
from ml_collections import config_flags

from bigcodec_jax import compile_cache, errors
from bigcodec_jax.io import download_cache, outputs, paths

PROG = "train.py"
HELP_FLAGS = ("--help", "-help", "-h", "--helpshort", "-helpshort", "--helpfull", "-helpfull", "--helpxml", "-?")

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "A config file, local or gs:// (configs/base.py: the paper recipe; configs/debug.py; "
    "configs/small.py: CPU-sized). Override fields with --config.<key>=<value>.", lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints, config.json, metrics.jsonl and "
                               "TensorBoard logs; an existing run there is resumed.")
flags.DEFINE_bool("debug", False, "Show the full traceback of an error.")


def _missing_key_message(argv: list[str], error: BaseException) -> str:
    """'--config.a.b=1: the config has no key b' for ml_collections' KeyError / AttributeError."""
    key = str(error).strip("'\"")
    for arg in argv:
        name = arg.lstrip("-").split("=")[0]
        if name.startswith("config.") and key in name.split("."):
            return f"{arg}: the config has no key {key!r} (see the config file for its keys)"
    return f"the config has no key {key!r}"


class _ConfigArg(NamedTuple):
    """Where --config's value is in argv: `argv[index] == prefix + path + suffix` (config_flags' `:argument`)."""
    index: int
    prefix: str
    path: str
    suffix: str


def _config_arg(argv: list[str]) -> _ConfigArg | None:
    """The config file given to --config, if any (a URL's `scheme://` is not taken for the `:argument`)."""
    for i, arg in enumerate(argv):
        if arg in ("--config", "-config") and i + 1 < len(argv):
            index, prefix, value = i + 1, "", argv[i + 1]
        elif arg.startswith(("--config=", "-config=")):
            index, (flag, value) = i, arg.split("=", 1)
            prefix = flag + "="
        else:
            continue
        scheme = value[:value.index("://") + 3] if paths.is_remote(value) else ""
        path, colon, argument = value[len(scheme):].partition(":")
        return _ConfigArg(index, prefix, scheme + path, colon + argument)
    return None


@contextlib.contextmanager
def _local_config(argv: list[str], config: _ConfigArg | None) -> Iterator[list[str]]:
    """argv with a remote --config file (gs://...) replaced by a local copy while the flags are parsed:
    config_flags imports the file as a module from a local path."""
    if config is None or not paths.is_remote(config.path):
        yield argv
        return
    with download_cache.local_copy(config.path) as local:
        yield [*argv[:config.index], config.prefix + local + config.suffix, *argv[config.index + 1:]]


def parse_flags(argv: list[str]) -> list[str]:
    """absl's flag parsing in this package's error style: one `error:` line and status 2 (absl prints its
    usage and exits 1, and a mistyped config key gave three chained tracebacks); --help exits 0. The config
    file may be local or remote (gs://...)."""
    config = _config_arg(argv)
    path = config.path if config else None
    errors.require(path is None or paths.isfile(path), f"--config {path}: no such file")
    try:
        with _local_config(argv, config) as local_argv:
            return flags.FLAGS(local_argv)
    except SystemExit:
        if any(arg.split("=")[0] in HELP_FLAGS for arg in argv[1:]):
            raise SystemExit(errors.OK) from None  # absl's help flags print the help and exit 1
        raise
    except flags.Error as e:
        raise errors.UsageError(f"{e} (see {PROG} --help)") from None
    except (KeyError, AttributeError) as e:  # ml_collections: an override of a key the config does not have
        raise errors.UsageError(_missing_key_message(argv, e)) from None
    except Exception as e:  # noqa: BLE001 - the config file's own code failed (--debug shows its traceback)
        raise errors.UsageError(f"--config {path}: loading it failed ({type(e).__name__}: {e})") from e


def _train(argv: list[str]) -> int:
    errors.require(len(argv) <= 1, f"unexpected arguments {argv[1:]} (see {PROG} --help)")
    errors.require(_CONFIG.value is not None and bool(_WORKDIR.value),
                   f"--config and --workdir are required (see {PROG} --help)")
    absl_logging.set_verbosity(absl_logging.WARNING)  # Orbax and grain are chatty at INFO
    logging.getLogger("bigcodec_jax").setLevel(logging.INFO)
    from bigcodec_jax import distributed
    from bigcodec_jax.data import TooManyBadExamples
    from bigcodec_jax.training import trainer
    from bigcodec_jax.training.checkpointing import NonFiniteState
    from bigcodec_jax.training.config import check_paths, check_processes, validate
    from bigcodec_jax.training.preemption import Preempted

    try:
        validate(_CONFIG.value)
        check_paths(_CONFIG.value)
    except errors.ConfigError as e:
        raise errors.UsageError(str(e)) from None
    try:
        distributed.initialize()
    except ValueError as e:
        raise errors.Failure(str(e)) from None
    try:
        check_processes(_CONFIG.value, jax.process_count())
    except errors.ConfigError as e:
        raise errors.UsageError(str(e)) from None
    outputs.prepare_output_dir(_WORKDIR.value, "--workdir")
    if jax.process_index() != 0:  # only process 0 logs
        logging.getLogger("bigcodec_jax").setLevel(logging.WARNING)
    # restarts after preemption skip recompiling
    compile_cache.use_persistent_cache(paths.join(paths.absolute(_WORKDIR.value), "compile_cache"))
    try:
        trainer.train(_CONFIG.value, _WORKDIR.value)
    except Preempted as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return errors.PREEMPTED
    except (errors.UsageError, errors.Failure):
        raise
    except (ValueError, TooManyBadExamples, trainer.TrainingDiverged, NonFiniteState) as e:
        raise errors.Failure(str(e)) from e
    return errors.OK


@errors.command(interrupted="the run keeps its last checkpoint; rerun the same command to continue")
def main(argv: list[str] | None = None) -> int:
    """train.py's command line (`argv` without the program name; default: sys.argv)."""
    app.run(_train, argv=[PROG, *(sys.argv[1:] if argv is None else argv)], flags_parser=parse_flags)
    return errors.OK  # not reached: app.run exits with _train's status
