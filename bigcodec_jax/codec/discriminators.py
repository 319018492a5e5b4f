"""The official discriminators: multi-period (HiFi-GAN) and multi-resolution spectrogram.

Every sub-discriminator returns all its feature maps, channels-last, the last one being the
score map the LSGAN losses read (flattened for the period discriminators, as the official code).
Parameter names follow `checkpoints/layout.py`: `mpd/period_{i}/conv_{l}`, `mstft/resolution_{r}/conv_{l}`.
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from bigcodec_jax.nn.spectral import stft_power
from bigcodec_jax.nn.weight_norm import WNConv

Features = list[jax.Array]

# The official period discriminator: five (5, 1) convolutions with these strides, then a (2, 1) one.
PERIOD_STRIDES = (3, 3, 3, 3, 1)
PERIOD_KERNEL = 5
PERIOD_OUT_KERNEL = 2


class PeriodDiscriminator(nn.Module):
    """Folds `(B, T)` audio into `(B, T / p, p)` columns and convolves along time only."""

    period: int
    channels: int
    channel_increasing_factor: int
    max_channels: int
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, wav: jax.Array) -> Features:
        batch, length = wav.shape
        extra = -length % self.period
        if extra:
            wav = jnp.pad(wav, ((0, 0), (0, extra)), mode="reflect")
        x = wav.reshape(batch, -1, self.period, 1)
        features, out = [], self.channels
        for layer, stride in enumerate(PERIOD_STRIDES):
            x = WNConv(out, (PERIOD_KERNEL, 1), (stride, 1), (PERIOD_KERNEL // 2, 0), dtype=self.dtype,
                       name=f"conv_{layer}")(x)
            x = nn.leaky_relu(x, 0.1)
            features.append(x)
            out = min(out * self.channel_increasing_factor, self.max_channels)
        x = WNConv(1, (PERIOD_OUT_KERNEL, 1), padding=(1, 0), dtype=self.dtype, name="conv_out")(x)
        return features + [x.reshape(batch, -1)]


class SpectrogramDiscriminator(nn.Module):
    """2-d convolutions over the clamped STFT magnitude `(B, bins, frames, 1)` of one resolution."""

    fft_size: int
    hop_size: int
    win_length: int
    channels: int
    max_channels: int
    downsample_scales: tuple[int, ...]
    kernel_sizes: tuple[int, int]
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, wav: jax.Array) -> Features:
        power = stft_power(wav, self.fft_size, self.hop_size, self.win_length)
        x = jnp.sqrt(jnp.clip(power, 1e-7, 1e3)).transpose(0, 2, 1)[..., None]
        k0, k1 = self.kernel_sizes
        # (features, kernel, stride, padding) of each LeakyReLU-followed convolution
        layers, chs = [(self.channels, k0, 2, k0 // 2)], self.channels
        for s in self.downsample_scales:
            chs = min(chs * s, self.max_channels)
            layers.append((chs, 2 * s + 1, s, s))
        layers.append((min(chs * 2, self.max_channels), k1, 1, k1 // 2))
        features = []
        for i, (out, k, s, p) in enumerate(layers):
            x = WNConv(out, (k, k), (s, s), (p, p), dtype=self.dtype, name=f"conv_{i}")(x)
            x = nn.leaky_relu(x, 0.2)
            features.append(x)
        x = WNConv(1, (k1, k1), padding=(k1 // 2, k1 // 2), dtype=self.dtype, name="conv_out")(x)
        return features + [x]


class MultiPeriodDiscriminator(nn.Module):
    """One `PeriodDiscriminator` per period (`period_{i}`)."""

    config: ml_collections.ConfigDict  # the `mpd` section of a model config
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, wav: jax.Array) -> list[Features]:
        c = self.config
        return [PeriodDiscriminator(p, c.channels, c.channel_increasing_factor, c.max_downsample_channels,
                                    self.dtype, name=f"period_{i}")(wav) for i, p in enumerate(c.periods)]


class MultiResolutionSpectrogramDiscriminator(nn.Module):
    """One `SpectrogramDiscriminator` per STFT resolution (`resolution_{r}`)."""

    config: ml_collections.ConfigDict  # the `mstft` section of a model config
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, wav: jax.Array) -> list[Features]:
        c, stft = self.config, self.config.stft_params
        return [SpectrogramDiscriminator(n, hop, win, c.channels, c.max_downsample_channels,
                                         tuple(c.downsample_scales), tuple(c.kernel_sizes), self.dtype,
                                         name=f"resolution_{r}")(wav)
                for r, (n, hop, win) in enumerate(zip(stft.fft_sizes, stft.hop_sizes, stft.win_lengths))]


class Discriminators(nn.Module):
    """Both official discriminator families (`mpd`, `mstft`): one feature list per sub-discriminator."""

    config: ml_collections.ConfigDict  # a model config (`bigcodec_jax.codec.config.model_config`)
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, wav: jax.Array) -> list[Features]:
        """`wav (B, T)` -> features of the period discriminators, then of the spectrogram ones."""
        return (MultiPeriodDiscriminator(self.config.mpd, self.dtype, name="mpd")(wav)
                + MultiResolutionSpectrogramDiscriminator(self.config.mstft, self.dtype, name="mstft")(wav))
