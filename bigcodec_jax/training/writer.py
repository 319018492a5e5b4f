"""Training logs of process 0 (other processes write nothing): TensorBoard scalars, audio and images in
WORKDIR/tensorboard, and WORKDIR/metrics.jsonl, one JSON object per logged step (`step` and the
scalars, e.g. `{"step": 50, "loss/gen": 3.1, ...}`), so runs can be compared by programs too.

A resumed run first drops the lines after the step it resumes from, so each step appears once.
A remote workdir (gs://...) gets both written locally and uploaded whole (object stores cannot append): at
most every `SYNC_SECONDS` when scalars are logged, and when the writer is closed (the end of the run, a stop
or a crash).
"""
from __future__ import annotations

import json
import os
import time

import jax
import numpy as np

from bigcodec_jax.audio import SAMPLE_RATE
from bigcodec_jax.io import paths, staged, synced_folder

METRICS_FILE = "metrics.jsonl"
SYNC_SECONDS = 60.0


def read_metrics(workdir: str) -> list[dict]:
    """The lines of WORKDIR/metrics.jsonl as dicts (a last line cut short by a crash is left out)."""
    path = paths.join(workdir, METRICS_FILE)
    if not paths.exists(path):
        return []
    rows = []
    for line in paths.read_text(path).splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def _keep_until(workdir: str, step: int) -> None:
    """Rewrite metrics.jsonl without the lines after `step` (logged before a crash, to be logged again)."""
    rows = [row for row in read_metrics(workdir) if row["step"] <= step]
    staged.write_text(paths.join(workdir, METRICS_FILE), "".join(json.dumps(row) + "\n" for row in rows))


class MetricWriter:
    def __init__(self, workdir: str, start_step: int = 0):
        """Logs of a run starting (or resuming) at `start_step`."""
        self._writer = self._jsonl = self._folder = None
        if jax.process_index() == 0:
            from tensorboardX import SummaryWriter  # imported lazily: only process 0 writes

            _keep_until(workdir, start_step)
            self._folder = synced_folder.SyncedFolder(workdir)  # the workdir itself when local
            self._writer = SummaryWriter(os.path.join(self._folder.local, "tensorboard"))
            self._jsonl = open(self._folder.download(METRICS_FILE), "a")
            self._synced = time.monotonic()

    def scalars(self, step: int, values: dict[str, float]) -> None:
        """All scalars of one step (one line of metrics.jsonl)."""
        if self._writer:
            for name, value in values.items():
                self._writer.add_scalar(name, float(value), step)
            self._jsonl.write(json.dumps({"step": step, **{k: v if isinstance(v, int) else float(v) for k, v in values.items()}}) + "\n")
            self._jsonl.flush()
            if time.monotonic() - self._synced >= SYNC_SECONDS:
                self._sync()

    def audio(self, step: int, name: str, wav: np.ndarray) -> None:
        if self._writer:
            self._writer.add_audio(name, np.clip(wav, -1, 1), step, sample_rate=SAMPLE_RATE)

    def image(self, step: int, name: str, image: np.ndarray) -> None:
        """`image` is uint8 `(H, W, 3)`."""
        if self._writer:
            self._writer.add_image(name, image, step, dataformats="HWC")

    def _sync(self) -> None:
        """Upload what is written so far (a remote workdir; nothing to do for a local one)."""
        self._writer.flush()
        self._folder.sync()
        self._synced = time.monotonic()

    def close(self) -> None:
        if self._writer:
            self._writer.close()
            self._jsonl.close()
            self._folder.close()
