"""Training logs of process 0 (other processes write nothing): TensorBoard scalars, audio and images in
WORKDIR/tensorboard, and WORKDIR/metrics.jsonl, one JSON object per logged step (`step` and the
scalars, e.g. `{"step": 50, "loss/gen": 3.1, ...}`), so runs can be compared by programs too.

A resumed run first drops the lines after the step it resumes from, so each step appears once.
"""
from __future__ import annotations

import json
import os

import jax
import numpy as np

from bigcodec_jax.audio import SAMPLE_RATE

METRICS_FILE = "metrics.jsonl"


def read_metrics(workdir: str) -> list[dict]:
    """The lines of WORKDIR/metrics.jsonl as dicts (a last line cut short by a crash is left out)."""
    path = os.path.join(workdir, METRICS_FILE)
    if not os.path.exists(path):
        return []
    rows = []
    with open(path) as f:
        for line in f:
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows


def _keep_until(workdir: str, step: int) -> None:
    """Rewrite metrics.jsonl without the lines after `step` (logged before a crash, to be logged again)."""
    rows = [row for row in read_metrics(workdir) if row["step"] <= step]
    tmp = os.path.join(workdir, f".{METRICS_FILE}.partial")
    with open(tmp, "w") as f:
        f.writelines(json.dumps(row) + "\n" for row in rows)
    os.replace(tmp, os.path.join(workdir, METRICS_FILE))


class MetricWriter:
    def __init__(self, workdir: str, start_step: int = 0):
        """Logs of a run starting (or resuming) at `start_step`."""
        self._writer = self._jsonl = None
        if jax.process_index() == 0:
            from tensorboardX import SummaryWriter  # imported lazily: only process 0 writes

            self._writer = SummaryWriter(os.path.join(workdir, "tensorboard"))
            _keep_until(workdir, start_step)
            self._jsonl = open(os.path.join(workdir, METRICS_FILE), "a")

    def scalars(self, step: int, values: dict[str, float]) -> None:
        """All scalars of one step (one line of metrics.jsonl)."""
        if self._writer:
            for name, value in values.items():
                self._writer.add_scalar(name, float(value), step)
            self._jsonl.write(json.dumps({"step": step, **{k: v if isinstance(v, int) else float(v) for k, v in values.items()}}) + "\n")
            self._jsonl.flush()

    def audio(self, step: int, name: str, wav: np.ndarray) -> None:
        if self._writer:
            self._writer.add_audio(name, np.clip(wav, -1, 1), step, sample_rate=SAMPLE_RATE)

    def image(self, step: int, name: str, image: np.ndarray) -> None:
        """`image` is uint8 `(H, W, 3)`."""
        if self._writer:
            self._writer.add_image(name, image, step, dataformats="HWC")

    def close(self) -> None:
        if self._writer:
            self._writer.close()
            self._jsonl.close()
