"""What the official X-Codec2 / NeuCodec code feeds its two encoders, for one 16 kHz clip.

Both pad the clip with `320 - samples % 320` zeros (a whole frame when it is already a multiple
of 320) for the acoustic encoder; the semantic features are computed from that padded clip, which
X-Codec2 first pads by 160 zeros each side and NeuCodec does not. The code frames of a clip are
the fewer of the two encoders' frames (`code_frames`).
"""
from __future__ import annotations

import numpy as np

from bigcodec_jax.xcodec2.config import FEATURE_PADDING
from bigcodec_jax.xcodec2.features import log_mel_features

HOP = 320  # the acoustic encoder's samples a frame, which the official padding rounds to


def padded(wav: np.ndarray) -> np.ndarray:
    """The acoustic encoder's input: `wav` `(samples,)` padded with `320 - samples % 320` zeros."""
    return np.pad(wav.astype(np.float32), (0, HOP - wav.shape[-1] % HOP))


def prepare(wav: np.ndarray, family: str) -> tuple[np.ndarray, np.ndarray]:
    """One clip `(samples,)` at 16 kHz -> (padded audio `(T,)`, semantic features `(F_s, 160)`)."""
    audio = padded(wav)
    side = FEATURE_PADDING[family]
    return audio, log_mel_features(np.pad(audio, (side, side)) if side else audio)


def code_frames(audio: np.ndarray, features: np.ndarray) -> int:
    """Code frames of a prepared clip: the fewer of the acoustic and semantic encoders' frames."""
    return min(audio.shape[-1] // HOP, features.shape[0])
