"""The BigCodec encoder: waveform `(B, T, 1)` -> latents `(B, T / hop, out_channels)`.

It is three stages, which the chunked long-audio path (`inference/chunking.py`) runs apart:
`features` (convolutions, finite receptive field), `recur` (the unidirectional LSTM, whose state
carries over) and `head` (activation and convolution, finite receptive field).
"""
from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from bigcodec_jax.codec.blocks import EncoderBlock, Lengths, conv_input
from bigcodec_jax.nn.masking import MaskedAntiAliasedSnakeBeta
from bigcodec_jax.nn.recurrent import LSTMState, ResLSTM
from bigcodec_jax.nn.weight_norm import WNConv


class Encoder(nn.Module):
    """Conv, EncoderBlocks doubling the width, ResLSTM, Act, Conv (official `CodecEncoder`)."""

    config: ml_collections.ConfigDict  # the `encoder` section of a model config
    dtype: jnp.dtype = jnp.float32

    def setup(self):
        cfg = self.config
        width = cfg.ngf
        self.conv_in = WNConv(width, (7,), padding=(3,), dtype=self.dtype)
        blocks = []
        for stride in cfg.up_ratios:
            width *= 2
            blocks.append(EncoderBlock(width, stride, tuple(cfg.dilations), self.dtype))
        self.block = blocks
        self.lstm = ResLSTM(cfg.rnn_num_layers, self.dtype) if cfg.use_rnn else None
        self.act_out = MaskedAntiAliasedSnakeBeta(self.dtype)
        self.conv_out = WNConv(cfg.out_channels, (3,), padding=(1,), dtype=self.dtype)

    def __call__(self, x: jax.Array, lengths: Lengths = None) -> jax.Array:
        """`lengths`: valid samples of each example of a right-padded batch (a multiple of the hop)."""
        hop = math.prod(self.config.up_ratios)
        y, _ = self.recur(self.features(x, lengths))
        return self.head(y, None if lengths is None else lengths // hop)

    def features(self, x: jax.Array, lengths: Lengths = None) -> jax.Array:
        """The convolutional stage: `(B, T, 1)` samples -> `(B, T / hop, C)`."""
        x = self.conv_in(conv_input(x, lengths))
        for block, stride in zip(self.block, self.config.up_ratios):
            x = block(x, lengths)
            lengths = None if lengths is None else lengths // stride
        return x

    def recur(self, x: jax.Array, state: tuple[LSTMState, ...] | None = None
              ) -> tuple[jax.Array, tuple[LSTMState, ...] | None]:
        """The LSTM stage from `state` (zeros when None): `(outputs, final state)`."""
        return self.lstm.run(x, state) if self.lstm is not None else (x, state)

    def head(self, x: jax.Array, lengths: Lengths = None) -> jax.Array:
        """Act and the output conv, per frame with a small receptive field; `lengths` in frames."""
        return self.conv_out(conv_input(self.act_out(x, lengths), lengths))
