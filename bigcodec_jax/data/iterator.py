"""The training iterator: host batches from grain, a position that survives restarts, bad-example counts.

Its state is {"batches": batches delivered, "bad_examples": n, "examples_read": n}: restoring it
rebuilds the grain pipeline from that batch, so a run resumes exactly even with different
`workers`, `read_threads` or host counts (same global batch). It is a `grain.DatasetIterator`,
so `grain.checkpoint.CheckpointSave(it)` / `CheckpointRestore(it)` store it in an Orbax checkpoint.
"""
from __future__ import annotations

from typing import Any

import grain
import numpy as np

from bigcodec_jax.data.bad_examples import BadExampleTally


class TrainIterator(grain.DatasetIterator):
    """Yields {"wav": float32 (host batch, segment_samples)} forever; `tally` counts unreadable examples."""

    def __init__(self, batches: grain.MapDataset, read_options: grain.ReadOptions, workers: int,
                 tally: BadExampleTally):
        super().__init__()
        self._batches, self._read_options, self._workers = batches, read_options, workers
        self.tally = tally
        self._delivered = 0
        self._pipeline: grain.DatasetIterator | None = None  # started at the first batch, from `_delivered`

    def _start(self) -> grain.DatasetIterator:
        dataset = self._batches[self._delivered:].to_iter_dataset(self._read_options)
        if self._workers:
            dataset = dataset.mp_prefetch(grain.MultiprocessingOptions(num_workers=self._workers))
        return dataset.__iter__()

    def __next__(self) -> dict[str, np.ndarray]:
        if self._pipeline is None:
            self._pipeline = self._start()
        batch = dict(next(self._pipeline))
        skipped = batch.pop("skipped")
        self.tally.add(int(skipped.sum()), len(skipped))
        self._delivered += 1
        return batch

    def get_state(self) -> dict[str, Any]:
        return {"batches": self._delivered, "bad_examples": self.tally.bad, "examples_read": self.tally.read}

    def set_state(self, state: dict[str, Any]) -> None:
        self._stop_pipeline()
        self._delivered = int(state["batches"])
        self.tally.bad, self.tally.read = int(state["bad_examples"]), int(state["examples_read"])

    def start_prefetch(self) -> None:
        if self._pipeline is None:
            self._pipeline = self._start()
        self._pipeline.start_prefetch()

    def close(self) -> None:
        self._stop_pipeline()
        super().close()

    def _stop_pipeline(self) -> None:
        if self._pipeline is not None:
            self._pipeline.close()
            self._pipeline = None
