"""X-Codec2 and NeuCodec model configs: the released sizes and the test sizes, each field checked when read.

One ConfigDict per model, `family` naming which of the two it is. The two families have the same
network; the family fixes what the sizes do not say: how the semantic features are prepared
(X-Codec2 pads the waveform by 160 samples each side first, NeuCodec does not) and hence how many
frames a clip gets. Rates are derived: 16 kHz in, `hop_length` (320) samples a frame, and audio out
at `decoder.hop` samples a frame (320: 16 kHz for X-Codec2, 480: 24 kHz for NeuCodec).
"""
from __future__ import annotations

import math
from typing import Any

import ml_collections

from bigcodec_jax.codec.config import check_fields, schema_of
from bigcodec_jax.errors import ConfigError

FAMILIES = ("xcodec2", "neucodec")
SAMPLE_RATE = 16000                       # input rate of both families
FEATURE_PADDING = {"xcodec2": 160, "neucodec": 0}  # samples added each side before the semantic features
OUTPUT_HOPS = {"xcodec2": 320, "neucodec": 480}     # the released decoders' samples a frame


def _model(family: str, *, ngf: int, latent: int, semantic: dict[str, int], vq_dim: int, hidden: int,
           depth: int, heads: int, rotary_dim: int) -> dict[str, Any]:
    return dict(
        family=family,
        encoder=dict(ngf=ngf, up_ratios=[2, 2, 4, 4, 5], dilations=[1, 3, 9], out_channels=latent),
        semantic=dict(semantic),
        adapter=dict(out_channels=semantic["hidden_size"]),
        quantizer=dict(dim=vq_dim, levels=[4] * 8),
        decoder=dict(hidden=hidden, depth=depth, heads=heads, rotary_dim=rotary_dim, hop=OUTPUT_HOPS[family]),
    )


# w2v-BERT 2.0 (facebook/w2v-bert-2.0): 24 Conformer layers, of which the first 16 are used.
_W2V_BERT = dict(hidden_size=1024, num_layers=16, num_heads=16, intermediate_size=4096, conv_kernel=31,
                 left_max_positions=64, right_max_positions=8)
# The committed golden set's sizes (tests/golden/FAMILY.md): every layer kind at a few kilobytes.
_W2V_BERT_MICRO = dict(hidden_size=16, num_layers=16, num_heads=2, intermediate_size=32, conv_kernel=31,
                       left_max_positions=64, right_max_positions=8)
_SIZES = {
    "full": dict(ngf=48, latent=1024, semantic=_W2V_BERT, vq_dim=2048, hidden=1024, depth=12, heads=16,
                 rotary_dim=64),
    "micro": dict(ngf=2, latent=16, semantic=_W2V_BERT_MICRO, vq_dim=32, hidden=64, depth=2, heads=4,
                  rotary_dim=16),
}
SIZES = tuple(_SIZES)


def model_config(family: str = "xcodec2", size: str = "full") -> ml_collections.ConfigDict:
    """The config of a family at a named size (`full` is the released model)."""
    if family not in FAMILIES:
        raise ValueError(f"unknown model family {family!r}; known: {', '.join(FAMILIES)}")
    if size not in _SIZES:
        raise ValueError(f"unknown size {size!r}; known: {', '.join(SIZES)}")
    return ml_collections.ConfigDict(_model(family, **_SIZES[size]))


_SCHEMA = schema_of(_model("xcodec2", **_SIZES["full"]))


def parse(data: dict[str, Any]) -> ml_collections.ConfigDict:
    """A config read from outside the code (a decoded JSON object), checked field by field: `ConfigError`
    naming the first field that is missing, unknown, mistyped or impossible."""
    check_fields(data, _SCHEMA, "")
    config = ml_collections.ConfigDict(data)
    validate(config)
    return config


def validate(config: ml_collections.ConfigDict | ml_collections.FrozenConfigDict) -> None:
    """`ConfigError` naming the field for a config the model cannot be built from."""
    check_fields(config, _SCHEMA, "")
    if config.family not in FAMILIES:
        raise ConfigError("family", f"must be one of {', '.join(FAMILIES)}, got {config.family!r}")
    if hop_length(config) != 320:
        raise ConfigError("encoder.up_ratios", f"must give 320 samples a frame (the semantic encoder's 50 frames "
                                               f"a second), got {hop_length(config)}")
    sem, dec = config.semantic, config.decoder
    if sem.hidden_size % sem.num_heads:
        raise ConfigError("semantic.num_heads", f"{sem.num_heads} does not divide hidden_size {sem.hidden_size}")
    if dec.hidden % dec.heads or dec.rotary_dim != dec.hidden // dec.heads:
        raise ConfigError("decoder.rotary_dim", f"must be hidden / heads ({dec.hidden} / {dec.heads}), "
                                                f"got {dec.rotary_dim}")
    if dec.hidden % 32:
        raise ConfigError("decoder.hidden", f"must be a multiple of 32 (the GroupNorm groups), got {dec.hidden}")


def freeze(config: ml_collections.ConfigDict | ml_collections.FrozenConfigDict) -> ml_collections.FrozenConfigDict:
    """The validated, immutable and hashable form that modules hold."""
    validate(config)
    return ml_collections.FrozenConfigDict(config)


def hop_length(config: ml_collections.ConfigDict | ml_collections.FrozenConfigDict) -> int:
    """Input samples a code frame: the product of the acoustic encoder's strides (320)."""
    return math.prod(config.encoder.up_ratios)


def frame_rate(config: ml_collections.ConfigDict | ml_collections.FrozenConfigDict) -> float:
    """Code frames a second (50)."""
    return SAMPLE_RATE / hop_length(config)


def output_sample_rate(config: ml_collections.ConfigDict | ml_collections.FrozenConfigDict) -> int:
    """The decoder's audio rate: its samples a frame at the frame rate (16 kHz for X-Codec2, 24 kHz for NeuCodec)."""
    return round(frame_rate(config) * config.decoder.hop)


def codebook_size(config: ml_collections.ConfigDict | ml_collections.FrozenConfigDict) -> int:
    """Distinct codes: the product of the FSQ levels (65,536)."""
    return math.prod(config.quantizer.levels)
