"""The model config of any family read from outside the code: BigCodec's, or X-Codec2's / NeuCodec's.

A family config names itself (`"family": "xcodec2"` or `"neucodec"`); BigCodec's configs, older than
the family, have no such field. Checkpoints, converted and run directories and codes files all read
their embedded config through `parse`, so each kind of file carries any of the three.
"""
from __future__ import annotations

import json
from typing import Any, NamedTuple

import ml_collections

from bigcodec_jax.codec import config as bigcodec_config
from bigcodec_jax.errors import ConfigError
from bigcodec_jax.xcodec2 import config as family_config

BIGCODEC = "bigcodec"


def family(config: ml_collections.ConfigDict | ml_collections.FrozenConfigDict) -> str:
    """"bigcodec", "xcodec2" or "neucodec"."""
    return config.get("family", BIGCODEC)


def parse(data: str | bytes | dict[str, Any]) -> ml_collections.ConfigDict:
    """A config from JSON text or its dict, checked field by field by its family's rules (`ConfigError`)."""
    if isinstance(data, (str, bytes, bytearray)):
        try:
            data = json.loads(data)
        except (ValueError, RecursionError) as e:
            raise ConfigError("", f"not valid JSON ({type(e).__name__}: {str(e)[:200]})") from None
    if isinstance(data, dict) and "family" in data:
        if data["family"] not in family_config.FAMILIES:
            raise ConfigError("family", f"must be one of {', '.join(family_config.FAMILIES)}, "
                                        f"got {str(data['family'])[:60]!r}")
        return family_config.parse(data)
    return bigcodec_config.parse_model_config(data)


class Model(NamedTuple):
    """What a model config says about its codes and audio, whichever the family."""

    family: str
    num_quantizers: int
    codebook_size: int
    hop_length: int          # input samples (16 kHz) a frame
    output_hop: int          # decoded samples a frame
    output_sample_rate: int
    frame_rate: float


def model_of(config: ml_collections.ConfigDict | ml_collections.FrozenConfigDict) -> Model:
    """The codes geometry and rates of any family's config."""
    if family(config) == BIGCODEC:
        hop = bigcodec_config.hop_length(config)
        return Model(BIGCODEC, config.decoder.vq_num_quantizers, config.decoder.codebook_size, hop, hop,
                     family_config.SAMPLE_RATE, family_config.SAMPLE_RATE / hop)
    return Model(config.family, 1, family_config.codebook_size(config), family_config.hop_length(config),
                 config.decoder.hop, family_config.output_sample_rate(config), family_config.frame_rate(config))
