"""Model configurations: one ConfigDict whose fields mirror the official constructor arguments.

`model_config(name)` builds every known variant; `HOP_LENGTH`-style facts are derived from the
config (`hop_length`), never repeated elsewhere. A config read from a file goes through
`parse_model_config`, which checks every field (`validate`) and names the first bad one.
"""
from __future__ import annotations

import json
import math
from typing import Any, Mapping

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


def parse_model_config(data: str | bytes | dict[str, Any]) -> ml_collections.ConfigDict:
    """The one way in for a model config that comes from outside the code: the config embedded in a checkpoint
    (safetensors metadata, the `.pt` key), a converted or run directory's `config.json`, a codes file's.

    `data` is JSON text or the dict it decodes to; anything else, a JSON error, a missing, unknown or mistyped
    field or an impossible value raises `ConfigError` naming the field (`decoder.codebook_size`), and
    nothing else is raised."""
    if isinstance(data, (str, bytes, bytearray)):
        try:
            data = json.loads(data)
        except (ValueError, RecursionError) as e:  # JSONDecodeError, bytes that are not UTF-8, absurd nesting
            raise ConfigError("", f"not valid JSON ({type(e).__name__}: {str(e)[:200]})") from None
    if not isinstance(data, dict):
        raise ConfigError("", f"a JSON object of the fields {', '.join(_SCHEMA)} is expected, got "
                              f"{_shown(data)}")
    check_fields(data, _SCHEMA, "")  # before ConfigDict, which raises its own errors on odd keys
    config = ml_collections.ConfigDict(data)
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
    """Fail early, with the key named (`ConfigError`), on a config the model cannot be built from: a
    missing, unknown or mistyped field, or an impossible value."""
    check_fields(config, _SCHEMA, "")
    enc, dec = config.encoder, config.decoder
    if enc.rnn_bidirectional or dec.rnn_bidirectional:
        raise ConfigError(f"{'encoder' if enc.rnn_bidirectional else 'decoder'}.rnn_bidirectional",
                          "True is not supported: every official BigCodec model uses a unidirectional LSTM")
    for name, part in (("encoder", enc), ("decoder", dec)):
        if part.use_rnn and part.rnn_num_layers < 1:
            raise ConfigError(f"{name}.rnn_num_layers", f"must be at least 1 when {name}.use_rnn is true")
    if math.prod(enc.up_ratios) > MAX_SIZE:
        raise ConfigError("encoder.up_ratios", f"{list(enc.up_ratios)} give a hop length above {MAX_SIZE:,}")
    if math.prod(enc.up_ratios) != math.prod(dec.up_ratios):
        raise ConfigError("decoder.up_ratios", f"{list(dec.up_ratios)} and encoder.up_ratios "
                          f"{list(enc.up_ratios)} give different hop lengths")
    if enc.out_channels != dec.in_channels or dec.vq_dim != dec.in_channels:
        raise ConfigError("decoder.in_channels" if enc.out_channels != dec.in_channels else "decoder.vq_dim",
                          f"encoder.out_channels ({enc.out_channels}), decoder.in_channels ({dec.in_channels}) "
                          f"and decoder.vq_dim ({dec.vq_dim}) must be equal")
    if dec.upsample_initial_channel % 2 ** len(dec.up_ratios):
        raise ConfigError("decoder.upsample_initial_channel", f"{dec.upsample_initial_channel} must be "
                          f"divisible by 2 ** len(decoder.up_ratios)")
    if not (math.isfinite(dec.vq_commit_weight) and dec.vq_commit_weight >= 0):
        raise ConfigError("decoder.vq_commit_weight", f"must be a finite number >= 0, got {dec.vq_commit_weight!r}")
    stft = config.mstft.stft_params
    if not len(stft.fft_sizes) == len(stft.hop_sizes) == len(stft.win_lengths):
        raise ConfigError("mstft.stft_params", "fft_sizes, hop_sizes and win_lengths must have the same length")
    if len(config.mstft.kernel_sizes) != 2:
        raise ConfigError("mstft.kernel_sizes", f"must hold 2 sizes, got {list(config.mstft.kernel_sizes)}")


# ------------------------------------------------------------------------------------- field checks

def schema_of(value: Any) -> Any:
    """The schema of a field, from its value in the released variant: a nested schema, a type, or [int]."""
    if isinstance(value, dict):
        return {key: schema_of(v) for key, v in value.items()}
    return [int] if isinstance(value, list) else type(value)


_SCHEMA = schema_of(_VARIANTS["full"])  # every variant has the same fields, with these types
_KIND_NAMES = {bool: "true or false", str: "a string"}
# Far above any real model (the released one's largest size is its 8192-entry codebook, it has 2 LSTM layers and
# 5 blocks), and small enough that shapes built from a config fit in int32 indices and the model (one module per
# layer, block or list entry) is traced in seconds.
MAX_SIZE = 2 ** 20
MAX_COUNT = 64  # for list lengths and the layer counts below
_COUNTS = {"encoder.rnn_num_layers", "decoder.rnn_num_layers"}  # 0 allowed; every other integer is a size or stride


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_fields(node: Any, schema: dict[str, Any], prefix: str) -> None:
    """ConfigError for the first field of `node` (a dict or ConfigDict) that is missing, unknown or of the
    wrong type, or an integer out of its range (1 to `MAX_SIZE`, 0 to `MAX_COUNT` for `_COUNTS`, lists of at most
    `MAX_COUNT`)."""
    if not isinstance(node, (Mapping, ml_collections.ConfigDict)):
        raise ConfigError(prefix.rstrip("."), f"{'' if prefix else 'the model config '}must be an object of "
                                              f"fields, got {_shown(node)}")
    for key in node.keys():
        if key not in schema:
            raise ConfigError(f"{prefix}{key}", f"is not a field of the model config (known: "
                              f"{', '.join(schema)})")
    for key, kind in schema.items():
        name = prefix + key
        if key not in node:
            raise ConfigError(name, "is missing")
        value = node[key]
        if isinstance(kind, dict):
            check_fields(value, kind, name + ".")
        elif kind is int:
            least, most = (0, MAX_COUNT) if name in _COUNTS else (1, MAX_SIZE)
            if not _is_int(value) or not least <= value <= most:
                raise ConfigError(name, f"must be an integer from {least} to {most:,}, got {_shown(value)}")
        elif kind == [int]:
            if not isinstance(value, (list, tuple)) or len(value) > MAX_COUNT \
                    or not all(_is_int(v) and 1 <= v <= MAX_SIZE for v in value):
                raise ConfigError(name, f"must be a list of at most {MAX_COUNT} integers from 1 to "
                                        f"{MAX_SIZE:,}, got {_shown(value)}")
        elif kind is float:
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise ConfigError(name, f"must be a number, got {_shown(value)}")
        elif not isinstance(value, kind):
            raise ConfigError(name, f"must be {_KIND_NAMES[kind]}, got {_shown(value)}")
