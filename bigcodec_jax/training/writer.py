"""TensorBoard output of process 0 (scalars, audio, images); other processes write nothing."""
from __future__ import annotations

import os

import jax
import numpy as np

from bigcodec_jax.audio import SAMPLE_RATE


class MetricWriter:
    def __init__(self, logdir: str):
        self._writer = None
        if jax.process_index() == 0:
            from tensorboardX import SummaryWriter  # imported lazily: only process 0 writes

            self._writer = SummaryWriter(os.path.join(logdir, "tensorboard"))

    def scalars(self, step: int, values: dict[str, float]) -> None:
        if self._writer:
            for name, value in values.items():
                self._writer.add_scalar(name, float(value), step)

    def audio(self, step: int, name: str, wav: np.ndarray) -> None:
        if self._writer:
            self._writer.add_audio(name, np.clip(wav, -1, 1), step, sample_rate=SAMPLE_RATE)

    def image(self, step: int, name: str, image: np.ndarray) -> None:
        """`image` is uint8 `(H, W, 3)`."""
        if self._writer:
            self._writer.add_image(name, image, step, dataformats="HWC")

    def flush(self) -> None:
        if self._writer:
            self._writer.flush()

    def close(self) -> None:
        if self._writer:
            self._writer.close()
