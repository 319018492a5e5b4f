"""`python train.py --config configs/base.py --workdir DIR [--config.key=value ...]`.

Trains BigCodec with the official GAN recipe. Rerunning the same command continues exactly from
the newest checkpoint in DIR (parameters, both optimisers, step and data position) and reuses the
compiled step cached in DIR/compile_cache. SIGTERM or Ctrl-C checkpoints the current step and
exits with status 75 ("preempted, saved": rerun to continue); 0 means the run finished, 1 a
configuration or data error. Any config field can be overridden, e.g. `--config.batch_size=16
--config.compute_dtype=bfloat16 --config.data.source=dir --config.data.path=/data/wavs
--config.init_from=bigcodec.pt`. Logs: DIR/tensorboard and DIR/metrics.jsonl (one JSON line per
logged step). On several hosts run the same command on every host (see the README); the
environment says how the processes find each other.
"""
from __future__ import annotations

import logging
import os
import sys

import jax

from absl import flags
from absl import logging as absl_logging
from ml_collections import config_flags

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "A config file (configs/base.py: the paper recipe; configs/debug.py; configs/small.py: "
    "CPU-sized). Override fields with --config.<key>=<value>.", lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints, config.json, metrics.jsonl and "
                               "TensorBoard logs; an existing run there is resumed.")


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        raise SystemExit(f"train.py: unexpected arguments {argv[1:]}; see --help")
    if _CONFIG.value is None or not _WORKDIR.value:
        raise SystemExit("train.py: --config and --workdir are required; see --help")
    absl_logging.set_verbosity(absl_logging.WARNING)  # Orbax and grain are chatty at INFO
    logging.getLogger("bigcodec_jax").setLevel(logging.INFO)
    from bigcodec_jax import distributed, exit_codes
    from bigcodec_jax.data import TooManyBadExamples
    from bigcodec_jax.training import trainer
    from bigcodec_jax.training.checkpointing import NonFiniteState
    from bigcodec_jax.training.preemption import Preempted

    try:
        distributed.initialize()
    except ValueError as e:
        print(f"train.py: {e}", file=sys.stderr)
        return exit_codes.FAILED
    if jax.process_index() != 0:  # only process 0 logs
        logging.getLogger("bigcodec_jax").setLevel(logging.WARNING)
    if not os.environ.get("JAX_COMPILATION_CACHE_DIR"):  # restarts after preemption skip recompiling
        jax.config.update("jax_compilation_cache_dir", os.path.join(os.path.abspath(_WORKDIR.value), "compile_cache"))
    try:
        trainer.train(_CONFIG.value, _WORKDIR.value)
    except Preempted as e:
        print(f"train.py: {e}", file=sys.stderr)
        return exit_codes.PREEMPTED
    except (ValueError, TooManyBadExamples, trainer.TrainingDiverged, NonFiniteState) as e:
        print(f"train.py: {e}", file=sys.stderr)
        return exit_codes.FAILED
    return exit_codes.OK
