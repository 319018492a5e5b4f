"""Log-mel spectrograms of an input and its reconstructions side by side, drawn with matplotlib.

One figure holds one panel per signal (time in seconds across, frequency in Hz on a mel scale up),
all on one colour scale (the 80 dB under the loudest panel's peak) explained by one colour bar, so
panels compare by colour. Figures are drawn with the Agg canvas directly (no pyplot, no display,
nothing global), which is safe in servers, threads and training loops.
"""
from __future__ import annotations

import math
import os
from typing import Sequence

import numpy as np

from bigcodec_jax.audio import SAMPLE_RATE
from bigcodec_jax.evaluation.features import HOP_LENGTH, log_mel

DYNAMIC_RANGE_DB = 80.0
PANEL_INCHES = (4.6, 3.0)   # (width, height) of one panel
COLOUR_BAR_INCHES = 1.1
DPI = 100
COLOUR_MAP = "magma"

FIGURE_NOTE = ("Each figure shows the log-mel spectrograms (80 bands up to 8 kHz, 10 ms frames) of the input and "
               "its reconstruction(s) side by side on one colour scale, the 80 dB below the loudest panel's peak: "
               "the closer a reconstruction's picture is to the input's, the closer its spectrum. The players "
               "below play the same audio, left to right.")
Panel = tuple[str, np.ndarray]  # (title, 16 kHz mono float audio)


def log_mel_db(wav: np.ndarray) -> np.ndarray:
    """`(N_MELS, frames)` log-mel magnitude in dB (`20 log10`) of 16 kHz `wav`, low bands first."""
    return (20.0 / math.log(10.0) * log_mel(wav)).T


def mel_figure(panels: Sequence[Panel], title: str = ""):
    """A matplotlib `Figure`: one log-mel panel per `(title, wav)`, side by side, sharing the frequency
    axis, one colour scale and its colour bar."""
    import librosa.display  # imported lazily: librosa and matplotlib are slow to import
    from matplotlib.figure import Figure

    if not panels:
        raise ValueError("mel_figure needs at least one panel")
    db = [log_mel_db(wav) for _, wav in panels]
    top = max(float(d.max()) for d in db)
    width = PANEL_INCHES[0] * len(panels) + COLOUR_BAR_INCHES
    figure = Figure(figsize=(width, PANEL_INCHES[1]), dpi=DPI, layout="constrained")
    axes = figure.subplots(1, len(panels), sharey=True, squeeze=False)[0]
    for ax, (name, _), d in zip(axes, panels, db):
        image = librosa.display.specshow(d, ax=ax, sr=SAMPLE_RATE, hop_length=HOP_LENGTH, x_axis="s", y_axis="mel",
                                         fmax=SAMPLE_RATE / 2, cmap=COLOUR_MAP, vmin=top - DYNAMIC_RANGE_DB, vmax=top)
        ax.set_title(name)
        ax.set_xlabel("time (s)")
        ax.set_ylabel("")
    axes[0].set_ylabel("frequency (Hz, mel scale)")
    figure.colorbar(image, ax=list(axes), label="log-mel magnitude (dB)", pad=0.01)
    if title:
        figure.suptitle(title)
    return figure


def figure_image(figure) -> np.ndarray:
    """uint8 `(H, W, 3)` RGB pixels of a matplotlib figure."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return np.array(canvas.buffer_rgba())[..., :3]


def mel_comparison_image(reference: np.ndarray, reconstruction: np.ndarray, title: str = "") -> np.ndarray:
    """uint8 `(H, W, 3)`: the log-mel of `reference` (left) and `reconstruction` (right) on one colour scale
    (what training logs to TensorBoard)."""
    return figure_image(mel_figure([("input", reference), ("reconstruction", reconstruction)], title))


def save_mel_figure(path: str, panels: Sequence[Panel], title: str = "") -> None:
    """Write `mel_figure(panels, title)` as a PNG at `path` (folders created)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    FigureCanvasAgg(mel_figure(panels, title)).print_png(path)
