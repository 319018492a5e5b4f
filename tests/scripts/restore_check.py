"""Restore a train.py checkpoint (tests/run_configs/fast.py, batch 4) under this job's processes and devices, as
train.py does, and dump what came back: `python restore_check.py WORKDIR STEP OUT` (run it through
bigcodec_jax.launch). Process 0 writes OUT/state.npz (every leaf, gathered, named by its path); every
process p writes OUT/data-<p>.npz: its data position and the next host batch it would train on."""
import importlib.util
import os
import sys

import jax
import numpy as np
from jax.experimental import multihost_utils

from bigcodec_jax import data, distributed
from bigcodec_jax.training import sharding, trainer
from bigcodec_jax.training.checkpointing import Checkpointer
from bigcodec_jax.training.state import build_models


def by_path(tree) -> dict:
    """{"gen_params/decoder/...": numpy array} of a state, whatever its container types."""
    return {sharding.path_name(path): np.asarray(leaf) for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]}


def fast_config():
    spec = importlib.util.spec_from_file_location(
        "fast", os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "run_configs", "fast.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    config = module.get_config()
    config.batch_size = 4
    return config


def main(workdir: str, step: int, out: str) -> None:
    distributed.initialize()
    config = fast_config()
    mesh = sharding.make_mesh(config)
    abstract, shardings = trainer.state_layout(build_models(config), config, mesh)
    target = jax.tree.map(lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s), abstract, shardings)
    iterator = iter(data.train_loader(config.data, config.batch_size, config.seed))
    checkpointer = Checkpointer(workdir, config)
    state = checkpointer.restore(target, iterator, step)
    checkpointer.close()
    gathered = multihost_utils.process_allgather(state, tiled=True)
    os.makedirs(out, exist_ok=True)
    if jax.process_index() == 0:
        np.savez(os.path.join(out, "state.npz"), **by_path(gathered))
    position = iterator.get_state()
    np.savez(os.path.join(out, f"data-{jax.process_index()}.npz"), batch=next(iterator)["wav"],
             **{k: np.array(v) for k, v in position.items()})
    iterator.close()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
