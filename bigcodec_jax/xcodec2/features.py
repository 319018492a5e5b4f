"""The w2v-BERT 2.0 input features: SeamlessM4T's Kaldi-style log-mel filterbank, stacked in pairs, in numpy.

X-Codec2 and NeuCodec feed their semantic encoder what transformers' `SeamlessM4TFeatureExtractor` (class
defaults) gives one 16 kHz clip: 25 ms frames every 10 ms (no centring), each frame scaled to 16-bit range,
its mean removed, pre-emphasised (0.97) and windowed (Povey), the power spectrum of a 512-point FFT through
80 triangular filters (Kaldi mel scale, triangles in mel space, 20 Hz to 8 kHz), floored and logged; then
every mel bin normalised over the clip (mean, unbiased variance), a zero frame appended to an odd count, and
pairs of frames stacked into 160 values at 50 Hz. It runs on the host, once per clip, before the model.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

SAMPLE_RATE = 16000
FEATURE_DIM = 160
FRAME = 400                # 25 ms
HOP = 160                  # 10 ms
N_FFT = 512
MEL_BINS = 80
STACK = FEATURE_DIM // MEL_BINS
MIN_SAMPLES = FRAME + HOP  # two frames: one frame has no unbiased variance (the official extractor gives NaN)
_PREEMPHASIS = 0.97
_MEL_FLOOR = 1.192092955078125e-07  # float32 epsilon
_VAR_EPS = 1e-7


def _kaldi_mel(hz: np.ndarray | float) -> np.ndarray:
    return 1127.0 * np.log(1.0 + np.asarray(hz, np.float64) / 700.0)


def _mel_filters() -> np.ndarray:
    """`(N_FFT // 2 + 1, MEL_BINS)` float64: triangles over the Kaldi mel scale, 20 Hz to Nyquist, unnormalised."""
    edges = np.linspace(_kaldi_mel(20.0), _kaldi_mel(SAMPLE_RATE / 2), MEL_BINS + 2)
    bins = _kaldi_mel(np.arange(N_FFT // 2 + 1) * (SAMPLE_RATE / N_FFT))[:, None]
    rising = (bins - edges[None, :-2]) / np.diff(edges)[None, :-1]
    falling = (edges[None, 2:] - bins) / np.diff(edges)[None, 1:]
    return np.maximum(0.0, np.minimum(rising, falling))


_FILTERS = _mel_filters()
_WINDOW = np.hanning(FRAME) ** 0.85  # Povey's window: a symmetric Hann to the power 0.85


def _check(wav: np.ndarray) -> np.ndarray:
    wav = np.asarray(wav)
    if wav.ndim != 1:
        raise ValueError(f"log_mel_features takes one mono clip of shape (samples,), not shape {wav.shape}")
    if wav.size < MIN_SAMPLES:
        raise ValueError(f"a clip of {wav.size} samples is too short for w2v-BERT features: at least "
                         f"{MIN_SAMPLES} samples ({MIN_SAMPLES / SAMPLE_RATE * 1000:.0f} ms at 16 kHz) are needed")
    if not np.issubdtype(wav.dtype, np.floating) and not np.issubdtype(wav.dtype, np.integer):
        raise ValueError(f"audio samples must be real numbers, not {wav.dtype}")
    if not np.isfinite(wav).all():
        raise ValueError("the clip holds non-finite samples (NaN or inf)")
    return wav.astype(np.float32)


def _log_mel(wav: np.ndarray) -> np.ndarray:
    """`(frames, MEL_BINS)` float32 log mel energies, before normalisation."""
    scaled = (wav * np.float32(2 ** 15)).astype(np.float64)  # Kaldi works on 16-bit sample values
    frames = np.lib.stride_tricks.sliding_window_view(scaled, FRAME)[::HOP]
    frames = frames - frames.mean(axis=1, keepdims=True)
    emphasised = np.concatenate([frames[:, :1] * (1 - _PREEMPHASIS),
                                 frames[:, 1:] - _PREEMPHASIS * frames[:, :-1]], axis=1)
    # The official spectrum passes through complex64 before its power is taken in float64.
    spectrum = np.fft.rfft(emphasised * _WINDOW, n=N_FFT, axis=1).astype(np.complex64)
    power = np.abs(spectrum.astype(np.complex128)) ** 2
    return np.log(np.maximum(_MEL_FLOOR, power @ _FILTERS)).astype(np.float32)


def log_mel_features(wav: np.ndarray) -> np.ndarray:
    """`(frames, 160)` float32 w2v-BERT input features of one 16 kHz clip `(samples,)`, as the official extractor
    gives them for that clip alone (frames = ceil(((samples - 400) // 160 + 1) / 2)). ValueError on a clip that
    is not 1-D, holds non-finite samples or is shorter than `MIN_SAMPLES`."""
    # Column-major like the official (transposed) array, so that numpy sums each bin the same (pairwise) way.
    mel = np.asfortranarray(_log_mel(_check(wav)))
    normalised = (mel - mel.mean(axis=0)) / np.sqrt(mel.var(axis=0, ddof=1) + np.float32(_VAR_EPS))
    if len(normalised) % STACK:
        normalised = np.concatenate([normalised, np.zeros((STACK - len(normalised) % STACK, MEL_BINS), np.float32)])
    return normalised.reshape(-1, FEATURE_DIM).astype(np.float32)


def batch_features(wavs: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Right-padded `(B, F_max, 160)` float32 features (zeros after each clip's frames) and each clip's frame
    count `(B,)` int32; each clip's rows are `log_mel_features` of that clip alone."""
    if len(wavs) == 0:
        raise ValueError("batch_features needs at least one clip")
    each = [log_mel_features(w) for w in wavs]
    lengths = np.array([len(f) for f in each], np.int32)
    out = np.zeros((len(each), int(lengths.max()), FEATURE_DIM), np.float32)
    for i, f in enumerate(each):
        out[i, :len(f)] = f
    return out, lengths
