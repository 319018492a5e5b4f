"""TensorBoard output of process 0 (scalars, audio, images) in WORKDIR/tensorboard; other processes write nothing.

A remote workdir (gs://...) gets the event files uploaded whole (object stores cannot append): at most every
`SYNC_SECONDS` when scalars are logged, and when the writer is closed (the end of the run, a stop or a crash).
"""
from __future__ import annotations

import os
import time

import jax
import numpy as np

from bigcodec_jax import paths
from bigcodec_jax.audio import SAMPLE_RATE

SYNC_SECONDS = 60.0


class MetricWriter:
    def __init__(self, logdir: str):
        self._writer = self._folder = None
        if jax.process_index() == 0:
            from tensorboardX import SummaryWriter  # imported lazily: only process 0 writes

            self._folder = paths.SyncedFolder(logdir)
            self._writer = SummaryWriter(os.path.join(self._folder.local, "tensorboard"))
            self._synced = time.monotonic()

    def scalars(self, step: int, values: dict[str, float]) -> None:
        if self._writer:
            for name, value in values.items():
                self._writer.add_scalar(name, float(value), step)
            if time.monotonic() - self._synced >= SYNC_SECONDS:
                self.flush()

    def audio(self, step: int, name: str, wav: np.ndarray) -> None:
        if self._writer:
            self._writer.add_audio(name, np.clip(wav, -1, 1), step, sample_rate=SAMPLE_RATE)

    def image(self, step: int, name: str, image: np.ndarray) -> None:
        """`image` is uint8 `(H, W, 3)`."""
        if self._writer:
            self._writer.add_image(name, image, step, dataformats="HWC")

    def flush(self) -> None:
        """Write what is buffered (and upload it, for a remote workdir)."""
        if self._writer:
            self._writer.flush()
            self._folder.sync()
            self._synced = time.monotonic()

    def close(self) -> None:
        if self._writer:
            self._writer.close()
            self._folder.close()
