"""Log-mel spectrograms of an input and its reconstruction, one above the other, drawn with PIL and numpy."""
from __future__ import annotations

import math
import os

import numpy as np
from PIL import Image, ImageDraw

from bigcodec_jax.evaluation.features import log_mel

DYNAMIC_RANGE_DB = 80.0
ROW_PIXELS = 2        # image rows per mel band
LABEL_PIXELS = 14     # height of the label strip above each panel
MIN_WIDTH = 240       # so the labels fit under short clips
# Colour map anchors from dark (quiet) to bright (loud), close to matplotlib's "magma".
_ANCHORS = np.array([[0, 0, 4], [81, 18, 124], [183, 55, 121], [252, 137, 97], [252, 253, 191]], np.float64)


def _colour(levels: np.ndarray) -> np.ndarray:
    """Levels in [0, 1] -> uint8 RGB by linear interpolation between the anchors."""
    position = levels * (len(_ANCHORS) - 1)
    channels = [np.interp(position, np.arange(len(_ANCHORS)), _ANCHORS[:, c]) for c in range(3)]
    return np.round(np.stack(channels, axis=-1)).astype(np.uint8)


def _labelled_panel(db: np.ndarray, top: float, width: int, label: str) -> np.ndarray:
    levels = np.clip((db - (top - DYNAMIC_RANGE_DB)) / DYNAMIC_RANGE_DB, 0.0, 1.0)
    panel = np.repeat(_colour(levels.T[::-1]), ROW_PIXELS, axis=0)  # low frequencies at the bottom
    canvas = np.zeros((LABEL_PIXELS + panel.shape[0], width, 3), np.uint8)
    canvas[LABEL_PIXELS:, :panel.shape[1]] = panel
    image = Image.fromarray(canvas)
    ImageDraw.Draw(image).text((2, 1), label, fill=(255, 255, 255))
    return np.asarray(image)


def mel_comparison_image(reference: np.ndarray, reconstruction: np.ndarray, title: str = "") -> np.ndarray:
    """uint8 `(H, W, 3)`: log-mel (dB) of 16 kHz `reference` on top and `reconstruction` below, one colour
    scale spanning 80 dB under the louder one's peak; one pixel column per 10 ms frame."""
    db = [20.0 / math.log(10.0) * log_mel(x) for x in (reference, reconstruction)]
    top = max(float(d.max()) for d in db)
    width = max(MIN_WIDTH, *(d.shape[0] for d in db))
    prefix = f"{title}: " if title else ""
    return np.concatenate([_labelled_panel(db[0], top, width, f"{prefix}input"),
                           _labelled_panel(db[1], top, width, f"{prefix}reconstruction")], axis=0)


def save_mel_comparison(path: str, reference: np.ndarray, reconstruction: np.ndarray, title: str = "") -> None:
    """Write `mel_comparison_image` as a PNG at `path` (folders created)."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    Image.fromarray(mel_comparison_image(reference, reconstruction, title)).save(path, format="PNG")
