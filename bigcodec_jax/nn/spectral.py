"""Short-time Fourier and mel spectrograms, as PyTorch's `torch.stft` / torchaudio compute them.

Centred frames with reflect padding and a periodic Hann window; channels-last outputs
`(B, frames, bins)`. Magnitudes have a zero gradient where the spectrum is exactly zero (as
PyTorch's `abs`), so zero-padded training crops never produce NaN gradients.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

# Power below which a bin counts as zero for the magnitude's gradient (far below any audible level).
_POWER_FLOOR = 1e-30


@functools.lru_cache(maxsize=None)
def hann_window(win_length: int, n_fft: int) -> np.ndarray:
    """Periodic Hann window of `win_length`, zero-padded on both sides to `n_fft` (as `torch.stft`)."""
    n = np.arange(win_length)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * n / win_length)
    left = (n_fft - win_length) // 2
    return np.pad(window, (left, n_fft - win_length - left)).astype(np.float32)


# The Slaney mel scale: linear (3 mels per 200 Hz) below 1 kHz, logarithmic above (27 mels per factor 6.4).
_LINEAR_HZ_PER_MEL, _LOG_START_HZ, _LOG_MELS_PER_NEPER = 200.0 / 3.0, 1000.0, 27.0 / np.log(6.4)
_LOG_START_MEL = _LOG_START_HZ / _LINEAR_HZ_PER_MEL


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    hz = np.asarray(hz, np.float64)
    log_part = _LOG_START_MEL + np.log(np.maximum(hz, _LOG_START_HZ) / _LOG_START_HZ) * _LOG_MELS_PER_NEPER
    return np.where(hz >= _LOG_START_HZ, log_part, hz / _LINEAR_HZ_PER_MEL)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, np.float64)
    log_part = _LOG_START_HZ * np.exp((np.maximum(mel, _LOG_START_MEL) - _LOG_START_MEL) / _LOG_MELS_PER_NEPER)
    return np.where(mel >= _LOG_START_MEL, log_part, mel * _LINEAR_HZ_PER_MEL)


@functools.lru_cache(maxsize=None)
def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    """`(n_fft // 2 + 1, n_mels)` Slaney-scale, Slaney-normalised triangles from 0 Hz to Nyquist.

    Band k rises from edge k to edge k + 1 and falls to edge k + 2, the `n_mels + 2` edges equally
    spaced in mels; each triangle is scaled to area 1 in Hz (`2 / (edge k + 2 - edge k)`). This is
    what the official model's torchaudio / librosa filterbank computes, here in float64 numpy so that
    training needs no audio library.
    """
    bins = np.fft.rfftfreq(n_fft, d=1.0 / sample_rate)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sample_rate / 2), n_mels + 2))
    rise = (bins[None, :] - edges[:-2, None]) / np.diff(edges)[:-1, None]
    fall = (edges[2:, None] - bins[None, :]) / np.diff(edges)[1:, None]
    triangles = np.maximum(0.0, np.minimum(rise, fall)) * (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return triangles.T.astype(np.float32)


def stft_power(x: jax.Array, n_fft: int, hop: int, win_length: int | None = None) -> jax.Array:
    """`|STFT|^2` of `x (B, T)`: centred, reflect-padded frames -> `(B, 1 + T // hop, n_fft // 2 + 1)`."""
    x = jnp.pad(x.astype(jnp.float32), ((0, 0), (n_fft // 2, n_fft // 2)), mode="reflect")
    n_frames = 1 + (x.shape[-1] - n_fft) // hop
    index = np.arange(n_frames)[:, None] * hop + np.arange(n_fft)[None, :]
    frames = x[:, index] * hann_window(win_length or n_fft, n_fft)
    spec = jnp.fft.rfft(frames, axis=-1)
    return jnp.real(spec) ** 2 + jnp.imag(spec) ** 2


def magnitude(power: jax.Array) -> jax.Array:
    """`sqrt(power)` with a zero gradient at zero power."""
    return jnp.sqrt(jnp.maximum(power, _POWER_FLOOR))


def mel_spectrogram(x: jax.Array, sample_rate: int, n_fft: int, n_mels: int) -> jax.Array:
    """Magnitude (power 1) mel spectrogram `(B, frames, n_mels)` with hop `n_fft // 4` (torchaudio defaults)."""
    mag = magnitude(stft_power(x, n_fft, n_fft // 4))
    return jnp.matmul(mag, mel_filterbank(sample_rate, n_fft, n_mels), precision=jax.lax.Precision.HIGHEST)


def mel_distance_config() -> ml_collections.ConfigDict:
    """The official seven resolutions: window = FFT size 32 ... 2048, 5 ... 320 mel bands."""
    return ml_collections.ConfigDict(dict(sample_rate=16000, window_lengths=[32, 64, 128, 256, 512, 1024, 2048],
                                          n_mels=[5, 10, 20, 40, 80, 160, 320], clamp_eps=1e-5))


def mel_distance(recon: jax.Array, target: jax.Array, config: ml_collections.ConfigDict) -> jax.Array:
    """The official multi-resolution mel loss, which evaluation reports as the mel distance.

    Sum over resolutions of `mean |log10 max(M(recon), eps) - log10 max(M(target), eps)|`.
    """
    total = jnp.float32(0.0)
    for n_fft, n_mels in zip(config.window_lengths, config.n_mels):
        log_mel = lambda x: jnp.log10(jnp.maximum(  # noqa: E731
            mel_spectrogram(x.astype(jnp.float32), config.sample_rate, n_fft, n_mels), config.clamp_eps))
        total = total + jnp.mean(jnp.abs(log_mel(recon) - log_mel(target)))
    return total
