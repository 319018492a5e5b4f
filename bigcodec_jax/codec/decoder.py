"""The BigCodec decoder: quantised latents `(B, F, in_channels)` -> waveform `(B, F * hop, 1)`."""
from __future__ import annotations

import jax.numpy as jnp
import ml_collections

from bigcodec_jax.codec.blocks import DecoderBlock, Layer, Tanh
from bigcodec_jax.codec.stages import StagedNetwork
from bigcodec_jax.nn.masking import MaskedAntiAliasedSnakeBeta
from bigcodec_jax.nn.recurrent import ResLSTM
from bigcodec_jax.nn.weight_norm import WNConv


class Decoder(StagedNetwork):
    """Conv, ResLSTM, DecoderBlocks halving the width, Act, Conv, tanh (official `CodecDecoder.model`).

    Stages: features = the input conv, recur = the LSTM, head = blocks, Act, conv and tanh (frames -> samples).
    """

    config: ml_collections.FrozenConfigDict  # the `decoder` section of a model config
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
        self.tanh = Tanh()

    def feature_layers(self) -> list[Layer]:
        return [self.conv_in]

    def head_layers(self) -> list[Layer]:
        return [*self.block, self.act_out, self.conv_out, self.tanh]
