"""Model configurations: one ConfigDict whose fields mirror the official constructor arguments.

`model_config(name)` builds every known variant; `HOP_LENGTH`-style facts are derived from the
config (`hop_length`), never repeated elsewhere.
"""
from __future__ import annotations

import json
import math
from typing import Any

import ml_collections

from bigcodec_jax.errors import ConfigError

VARIANTS = ("full", "official_debug", "mini_default", "tiny_train")

_STFT_5 = dict(
    fft_sizes=[128, 256, 512, 1024, 2048],
    hop_sizes=[32, 64, 128, 256, 512],
    win_lengths=[128, 256, 512, 1024, 2048],
    window="hann_window",
)
_STFT_3 = dict(
    fft_sizes=[256, 512, 1024],
    hop_sizes=[64, 128, 256],
    win_lengths=[256, 512, 1024],
    window="hann_window",
)


def _variant(*, ngf, enc_ratios, dec_ratios, rnn_layers, latent, dec_channels, n_q, codebook_size,
             mpd_periods, mpd_channels, mpd_max, stft, mstft_channels, mstft_max) -> dict[str, Any]:
    return dict(
        encoder=dict(ngf=ngf, use_rnn=True, rnn_bidirectional=False, rnn_num_layers=rnn_layers,
                     up_ratios=list(enc_ratios), dilations=[1, 3, 9], out_channels=latent),
        decoder=dict(in_channels=latent, upsample_initial_channel=dec_channels, ngf=ngf, use_rnn=True,
                     rnn_bidirectional=False, rnn_num_layers=rnn_layers, up_ratios=list(dec_ratios),
                     dilations=[1, 3, 9], vq_num_quantizers=n_q, vq_dim=latent, vq_commit_weight=0.25,
                     vq_full_commit_loss=False, codebook_size=codebook_size, codebook_dim=8),
        mpd=dict(periods=list(mpd_periods), max_downsample_channels=mpd_max, channels=mpd_channels,
                 channel_increasing_factor=4),
        mstft=dict(stft_params=dict(stft), in_channels=1, out_channels=1, kernel_sizes=[5, 3],
                   channels=mstft_channels, max_downsample_channels=mstft_max, downsample_scales=[2, 2, 2],
                   use_weight_norm=True),
    )


_VARIANTS = {
    # The released bigcodec.pt (official config/model/default.yaml).
    "full": _variant(ngf=48, enc_ratios=(2, 2, 2, 5, 5), dec_ratios=(5, 5, 2, 2, 2), rnn_layers=2, latent=1024,
                     dec_channels=1536, n_q=1, codebook_size=8192, mpd_periods=(2, 3, 5, 7, 11), mpd_channels=16,
                     mpd_max=512, stft=_STFT_5, mstft_channels=32, mstft_max=512),
    # The official repository's config/model/debug.yaml.
    "official_debug": _variant(ngf=16, enc_ratios=(2, 4, 5, 5), dec_ratios=(5, 5, 4, 2), rnn_layers=1, latent=256,
                               dec_channels=256, n_q=8, codebook_size=1024, mpd_periods=(2, 3, 5), mpd_channels=8,
                               mpd_max=256, stft=_STFT_3, mstft_channels=8, mstft_max=256),
    # The released topology with narrow channels (golden data only).
    "mini_default": _variant(ngf=8, enc_ratios=(2, 2, 2, 5, 5), dec_ratios=(5, 5, 2, 2, 2), rnn_layers=2, latent=64,
                             dec_channels=96, n_q=1, codebook_size=8192, mpd_periods=(2, 3, 5, 7, 11), mpd_channels=4,
                             mpd_max=64, stft=_STFT_5, mstft_channels=4, mstft_max=64),
    # A very small model for training-step parity and CPU tests.
    "tiny_train": _variant(ngf=4, enc_ratios=(2, 4, 5, 5), dec_ratios=(5, 5, 4, 2), rnn_layers=1, latent=32,
                           dec_channels=32, n_q=2, codebook_size=256, mpd_periods=(2, 3, 5, 7, 11), mpd_channels=4,
                           mpd_max=32, stft=_STFT_5, mstft_channels=4, mstft_max=32),
}


def model_config(name: str = "full") -> ml_collections.ConfigDict:
    """The model config of a named variant (`full` is the released 159 M-parameter codec)."""
    if name not in _VARIANTS:
        raise ValueError(f"unknown model variant {name!r}; known: {', '.join(VARIANTS)}")
    return ml_collections.ConfigDict(json.loads(json.dumps(_VARIANTS[name])))


def from_dict(d: dict[str, Any]) -> ml_collections.ConfigDict:
    """A validated model config from a plain dict (for example the JSON written next to a converted checkpoint)."""
    config = ml_collections.ConfigDict(d)
    validate(config)
    return config


def freeze(config: ml_collections.ConfigDict | ml_collections.FrozenConfigDict) -> ml_collections.FrozenConfigDict:
    """The validated, immutable and hashable form that modules hold, so jit caches key on it directly."""
    validate(config)
    return ml_collections.FrozenConfigDict(config)


def to_json(config: ml_collections.ConfigDict | ml_collections.FrozenConfigDict) -> str:
    return json.dumps(config.to_dict(), indent=1, sort_keys=True)


def hop_length(config: ml_collections.ConfigDict | ml_collections.FrozenConfigDict) -> int:
    """Samples per code frame: the product of the encoder strides (200 for every official variant)."""
    return math.prod(config.encoder.up_ratios)


def validate(config: ml_collections.ConfigDict | ml_collections.FrozenConfigDict) -> None:
    """Fail early, with the key named (`ConfigError`), on a config the model cannot be built from."""
    enc, dec = config.encoder, config.decoder
    for part, section in (("encoder", enc), ("decoder", dec)):
        if section.rnn_bidirectional:
            raise ConfigError(f"{part}.rnn_bidirectional", "True is not supported: every official BigCodec "
                              "model uses a unidirectional LSTM")
    if math.prod(enc.up_ratios) != math.prod(dec.up_ratios):
        raise ConfigError("decoder.up_ratios", f"{list(dec.up_ratios)} and encoder.up_ratios "
                          f"{list(enc.up_ratios)} give different hop lengths")
    if enc.out_channels != dec.in_channels or dec.vq_dim != dec.in_channels:
        raise ConfigError("decoder.in_channels" if enc.out_channels != dec.in_channels else "decoder.vq_dim",
                          f"encoder.out_channels ({enc.out_channels}), decoder.in_channels ({dec.in_channels}) "
                          f"and decoder.vq_dim ({dec.vq_dim}) must be equal")
    if dec.upsample_initial_channel % 2 ** len(dec.up_ratios):
        raise ConfigError("decoder.upsample_initial_channel", f"{dec.upsample_initial_channel} must be divisible "
                          f"by 2 ** len(decoder.up_ratios)")
    for key in ("vq_num_quantizers", "codebook_size", "codebook_dim"):
        if dec[key] < 1:
            raise ConfigError(f"decoder.{key}", f"must be positive, got {dec[key]}")
