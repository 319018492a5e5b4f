"""Receptive fields of the encoder's and decoder's convolutional stages, derived from the model config.

A stage is a list of layers; `span` maps a range of output positions to the range of input
positions it reads, walking the layers backwards with exact integer arithmetic (zero padding
and replicate padding read the same positions as the data they stand in for). The chunked
long-audio path needs, in code frames, how far each stage looks to the left and right.
"""
from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import ml_collections

from bigcodec_jax.codec.blocks import stride_padding
from bigcodec_jax.nn.activations import RESAMPLING_FILTER

# The anti-aliased activation reads `ACTIVATION_RADIUS` input frames on each side: its polyphase
# upsampler reads 3 frames on each side (6 taps per phase), and the downsampler 3 more.
ACTIVATION_RADIUS = len(RESAMPLING_FILTER) // 2 - 1
RESIDUAL_KERNEL = 7  # the dilated convolution of every ResidualUnit


class Conv(NamedTuple):
    kernel: int
    stride: int = 1
    padding: int = 0
    dilation: int = 1


class ConvTranspose(NamedTuple):
    kernel: int
    stride: int
    padding: int


class Activation(NamedTuple):
    pass


class Residual(NamedTuple):
    branch: tuple  # x + branch(x)


class Context(NamedTuple):
    """Frames a stage reads before and after the frames it computes."""

    left: int
    right: int


def span(layers: Sequence, lo: int, hi: int) -> tuple[int, int]:
    """Input positions `[lo', hi']` read by the stage's outputs `[lo, hi]` (inclusive ranges)."""
    for layer in reversed(layers):
        if isinstance(layer, Conv):
            lo = lo * layer.stride - layer.padding
            hi = hi * layer.stride - layer.padding + layer.dilation * (layer.kernel - 1)
        elif isinstance(layer, ConvTranspose):  # output o reads inputs i with o = i * stride - padding + tap
            lo = -(-(lo + layer.padding - layer.kernel + 1) // layer.stride)
            hi = (hi + layer.padding) // layer.stride
        elif isinstance(layer, Activation):
            lo, hi = lo - ACTIVATION_RADIUS, hi + ACTIVATION_RADIUS
        else:  # Residual: the skip reads [lo, hi], which the branch's span contains
            branch_lo, branch_hi = span(layer.branch, lo, hi)
            lo, hi = min(lo, branch_lo), max(hi, branch_hi)
    return lo, hi


def _residual_units(dilations: Sequence[int]) -> list:
    return [Residual((Activation(), Conv(RESIDUAL_KERNEL, 1, (RESIDUAL_KERNEL // 2) * d, d), Activation(), Conv(1)))
            for d in dilations]


def encoder_stages(config: ml_collections.ConfigDict) -> tuple[list, list]:
    """(features: samples -> frames, head: frames -> frames) of `config.encoder`."""
    enc = config.encoder
    features = [Conv(7, 1, 3)]
    for stride in enc.up_ratios:
        features += _residual_units(enc.dilations) + [Activation(), Conv(2 * stride, stride, stride_padding(stride))]
    return features, [Activation(), Conv(3, 1, 1)]


def decoder_stages(config: ml_collections.ConfigDict) -> tuple[list, list]:
    """(features: frames -> frames, head: frames -> samples) of `config.decoder`."""
    dec = config.decoder
    head = []
    for stride in dec.up_ratios:
        head += [Activation(), ConvTranspose(2 * stride, stride, stride_padding(stride))]
        head += _residual_units(dec.dilations)
    return [Conv(7, 1, 3)], head + [Activation(), Conv(7, 1, 3)]


def frame_context(layers: Sequence, samples_in: int, samples_out: int) -> Context:
    """Context in frames of a stage whose input and output have `samples_in` / `samples_out` per frame."""
    lo, hi = span(layers, 0, samples_out - 1)  # the outputs of frame 0
    return Context(math.ceil(-lo / samples_in), math.ceil((hi - (samples_in - 1)) / samples_in))


def encoder_context(config: ml_collections.ConfigDict) -> tuple[Context, Context]:
    """(features, head) contexts of the encoder, in frames."""
    features, head = encoder_stages(config)
    hop = math.prod(config.encoder.up_ratios)
    return frame_context(features, hop, 1), frame_context(head, 1, 1)


def decoder_context(config: ml_collections.ConfigDict) -> tuple[Context, Context]:
    """(features, head) contexts of the decoder, in frames."""
    features, head = decoder_stages(config)
    hop = math.prod(config.decoder.up_ratios)
    return frame_context(features, 1, 1), frame_context(head, 1, hop)
