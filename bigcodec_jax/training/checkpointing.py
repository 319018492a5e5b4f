"""Orbax checkpoints of the whole run in WORKDIR/checkpoints: train state plus the data position.

Saves every `checkpoint.every_steps` (asynchronously when allowed), keeps the last
`checkpoint.keep`, and never writes a state holding NaN or infinity. With several processes every
process writes its own shards into the one checkpoint (Orbax coordinates them; a step directory
appears only once all are written), and the data position is one small JSON written by process 0:
the global batch count and the bad-example counters summed over processes. So a checkpoint
restores under any process count and mesh (the same global batch size), data position included.
"""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import orbax.checkpoint as ocp

from bigcodec_jax import distributed
from bigcodec_jax.checkpoints.run_dir import CHECKPOINTS_DIR, DATA_ITEM, STATE_ITEM
from bigcodec_jax.data.iterator import TrainIterator
from bigcodec_jax.io import paths
from bigcodec_jax.training.state import TrainState


class NonFiniteState(RuntimeError):
    """The parameters or optimiser state contain NaN/inf; such a state is never checkpointed."""


def _finite(state: TrainState, step: int) -> bool:
    """Whether every floating-point value of `state` (at `step`) is finite, agreed by all processes.

    Each process checks one replica of its own shards on the host, which the save copies them to anyway; a
    jitted check of the ~1500 arrays (parameters and both optimisers' moments) would be one more program for
    XLA's CPU compiler, which pays per kernel (docs/benchmarks.md, "Training step").
    """
    local = all(np.isfinite(np.asarray(shard.data)).all()
                for x in jax.tree.leaves(state) if jnp.issubdtype(x.dtype, jnp.inexact)
                for shard in x.addressable_shards if shard.replica_id == 0)
    return distributed.sum_over_processes(f"finite/{step}", not local) == 0


def global_data_position(iterator: TrainIterator, step: int) -> dict[str, int]:
    """The data position of the whole job at `step` (every process must call it): the batch count, which
    all processes share, and the bad-example counters summed over processes."""
    local = iterator.get_state()
    return {"batches": int(local["batches"]),
            **{key: distributed.sum_over_processes(f"{key}/{step}", local[key]) for key in ("bad_examples",
                                                                                           "examples_read")}}


def _share(total: int, index: int, count: int) -> int:
    """Process `index`'s part of a counter summed over processes, split as evenly as integers allow."""
    return total // count + (index < total % count)


def local_data_position(position: dict[str, Any], index: int, count: int) -> dict[str, int]:
    """What process `index` of `count` resumes from: the batch count, and its share of the counters."""
    return {"batches": int(position["batches"]),
            "bad_examples": _share(int(position["bad_examples"]), index, count),
            "examples_read": _share(int(position["examples_read"]), index, count)}


def _use_coordination_service_barriers() -> None:
    """Make Orbax wait in the coordination service rather than in device collectives (its default), which on
    CPU (gloo) give up when one process is 30 s late and must not run on its saving thread beside the step's."""
    from absl import flags

    if not flags.FLAGS.is_parsed():  # a library caller: absl flags at their defaults
        flags.FLAGS.mark_as_parsed()
    flags.FLAGS.experimental_orbax_use_distributed_barrier = True


class Checkpointer:
    def __init__(self, workdir: str, config: ml_collections.ConfigDict):
        if jax.process_count() > 1:
            _use_coordination_service_barriers()
        options = ocp.CheckpointManagerOptions(max_to_keep=config.checkpoint.keep,
                                               save_interval_steps=config.checkpoint.every_steps,
                                               enable_async_checkpointing=config.checkpoint.async_save)
        self._manager = ocp.CheckpointManager(paths.join(paths.absolute(workdir), CHECKPOINTS_DIR), options=options)

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def due(self, step: int) -> bool:
        """Whether `step` is a regular save step (host-side only: no device or process synchronisation)."""
        return self._manager.should_save(step)

    def save(self, step: int, state: TrainState, data_iterator: TrainIterator, force: bool = False) -> bool:
        """Save `state` (whose step is `step`, given so as not to read it from the device) if due, or when
        `force`; True when a save started. Every process must call it at the same steps."""
        if not (force or self.due(step)):
            return False
        if not _finite(state, step):
            raise NonFiniteState(f"refusing to checkpoint step {step}: the train state is not finite")
        position = global_data_position(data_iterator, step)
        return self._manager.save(step, args=ocp.args.Composite(
            **{STATE_ITEM: ocp.args.StandardSave(state), DATA_ITEM: ocp.args.JsonSave(position)}), force=force)

    def restore(self, abstract_state: TrainState, data_iterator: TrainIterator,
                step: int | None = None) -> TrainState:
        """The state saved at `step` (default: the latest), placed as `abstract_state`'s shardings; the
        iterator is moved to its saved position (its share of it, for this process)."""
        step = self.latest_step() if step is None else step
        restored = self._manager.restore(step, args=ocp.args.Composite(
            **{STATE_ITEM: ocp.args.StandardRestore(abstract_state), DATA_ITEM: ocp.args.JsonRestore()}))
        data_iterator.set_state(local_data_position(restored[DATA_ITEM], jax.process_index(), jax.process_count()))
        return restored[STATE_ITEM]

    def wait(self) -> None:
        self._manager.wait_until_finished()

    def close(self) -> None:
        self._manager.close()
