"""The BigCodec decoder: quantised latents `(B, F, in_channels)` -> waveform `(B, F * hop, 1)`.

Like the encoder it is three stages that the chunked long-audio path runs apart: `features` (the
input conv), `recur` (the unidirectional LSTM, whose state carries over) and `head` (the
upsampling blocks, finite receptive field).
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from bigcodec_jax.codec.blocks import DecoderBlock, Lengths, conv_input
from bigcodec_jax.nn.masking import MaskedAntiAliasedSnakeBeta
from bigcodec_jax.nn.recurrent import LSTMState, ResLSTM
from bigcodec_jax.nn.weight_norm import WNConv


class Decoder(nn.Module):
    """Conv, ResLSTM, DecoderBlocks halving the width, Act, Conv, tanh (official `CodecDecoder.model`)."""

    config: ml_collections.ConfigDict  # the `decoder` section of a model config
    dtype: jnp.dtype = jnp.float32

    def setup(self):
        cfg = self.config
        width = cfg.upsample_initial_channel
        self.conv_in = WNConv(width, (7,), padding=(3,), dtype=self.dtype)
        self.lstm = ResLSTM(cfg.rnn_num_layers, self.dtype) if cfg.use_rnn else None
        blocks = []
        for stride in cfg.up_ratios:
            width //= 2
            blocks.append(DecoderBlock(width, stride, tuple(cfg.dilations), self.dtype))
        self.block = blocks
        self.act_out = MaskedAntiAliasedSnakeBeta(self.dtype)
        self.conv_out = WNConv(1, (7,), padding=(3,), dtype=self.dtype)

    def __call__(self, x: jax.Array, lengths: Lengths = None) -> jax.Array:
        """`lengths`: valid frames of each example of a right-padded batch."""
        y, _ = self.recur(self.features(x, lengths))
        return self.head(y, lengths)

    def features(self, x: jax.Array, lengths: Lengths = None) -> jax.Array:
        """The input conv: `(B, F, in_channels)` -> `(B, F, C)`."""
        return self.conv_in(conv_input(x, lengths))

    def recur(self, x: jax.Array, state: tuple[LSTMState, ...] | None = None
              ) -> tuple[jax.Array, tuple[LSTMState, ...] | None]:
        """The LSTM stage from `state` (zeros when None): `(outputs, final state)`."""
        return self.lstm.run(x, state) if self.lstm is not None else (x, state)

    def head(self, x: jax.Array, lengths: Lengths = None) -> jax.Array:
        """Upsampling blocks, Act, Conv, tanh: `(B, F, C)` -> `(B, F * hop, 1)`; `lengths` in frames."""
        for block, stride in zip(self.block, self.config.up_ratios):
            x = block(x, lengths)
            lengths = None if lengths is None else lengths * stride
        x = self.conv_out(conv_input(self.act_out(x, lengths), lengths))
        return jnp.tanh(x)
