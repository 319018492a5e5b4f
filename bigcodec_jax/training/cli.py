"""`python train.py --config configs/base.py --workdir DIR [--config.key=value ...]`.

Trains BigCodec with the official GAN recipe. Rerunning the same command continues exactly from
the newest checkpoint in DIR (parameters, both optimisers, step, RNG and data position) and
reuses the compiled step cached in DIR/compile_cache; SIGTERM or Ctrl-C checkpoints and exits.
Any config field can be overridden, e.g.
`--config.batch_size=16 --config.compute_dtype=bfloat16 --config.data.source=dir
--config.data.path=/data/wavs --config.init_from=bigcodec.pt`. TensorBoard logs go to DIR/tensorboard.
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
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints, config.json and TensorBoard logs; "
                               "an existing run there is resumed.")


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        raise SystemExit(f"train.py: unexpected arguments {argv[1:]}; see --help")
    if _CONFIG.value is None or not _WORKDIR.value:
        raise SystemExit("train.py: --config and --workdir are required; see --help")
    absl_logging.set_verbosity(absl_logging.WARNING)  # Orbax and grain are chatty at INFO
    logging.getLogger("bigcodec_jax").setLevel(logging.INFO)
    from bigcodec_jax.data import TooManyBadExamples
    from bigcodec_jax.training import trainer
    from bigcodec_jax.training.checkpointing import NonFiniteState

    trainer.maybe_initialize_distributed()
    if not os.environ.get("JAX_COMPILATION_CACHE_DIR"):  # restarts after preemption skip recompiling
        jax.config.update("jax_compilation_cache_dir", os.path.join(os.path.abspath(_WORKDIR.value), "compile_cache"))
    try:
        trainer.train(_CONFIG.value, _WORKDIR.value)
    except (ValueError, TooManyBadExamples, trainer.TrainingDiverged, NonFiniteState) as e:
        print(f"train.py: {e}", file=sys.stderr)
        return 1
    return 0
