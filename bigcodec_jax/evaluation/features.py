"""The log-mel spectrogram behind the mel-cepstral distortion and the comparison pictures (numpy, librosa)."""
from __future__ import annotations

import numpy as np

from bigcodec_jax.audio import SAMPLE_RATE

N_FFT = 512
WIN_LENGTH = 400   # 25 ms
HOP_LENGTH = 160   # 10 ms
N_MELS = 80        # Slaney mel bands from 0 Hz to 8 kHz
MAGNITUDE_FLOOR = 1e-5  # as the training loss's clamp: -100 dB, far below speech


def log_mel(wav: np.ndarray) -> np.ndarray:
    """`(frames, N_MELS)` natural log of the magnitude mel spectrum of 16 kHz `wav`, floored at `MAGNITUDE_FLOOR`."""
    import librosa  # imported lazily: slow to import

    mel = librosa.feature.melspectrogram(y=np.asarray(wav, np.float32), sr=SAMPLE_RATE, n_fft=N_FFT,
                                         win_length=WIN_LENGTH, hop_length=HOP_LENGTH, n_mels=N_MELS, power=1.0)
    return np.log(np.maximum(mel, MAGNITUDE_FLOOR)).T
