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


@functools.lru_cache(maxsize=None)
def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    """`(n_fft // 2 + 1, n_mels)` Slaney-scale, Slaney-normalised triangles from 0 Hz to Nyquist."""
    import librosa  # imported lazily: slow to import, needed only to build the (cached) matrix

    return librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=0.0, fmax=sample_rate / 2,
                               htk=False, norm="slaney", dtype=np.float64).T.astype(np.float32)


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
