"""The BigCodec encoder: waveform `(B, T, 1)` -> latents `(B, T / hop, out_channels)`."""
from __future__ import annotations

import jax.numpy as jnp
import ml_collections

from bigcodec_jax.codec.blocks import EncoderBlock, Layer
from bigcodec_jax.codec.stages import StagedNetwork
from bigcodec_jax.nn.masking import MaskedAntiAliasedSnakeBeta
from bigcodec_jax.nn.recurrent import ResLSTM
from bigcodec_jax.nn.weight_norm import WNConv


class Encoder(StagedNetwork):
    """Conv, EncoderBlocks doubling the width, ResLSTM, Act, Conv (official `CodecEncoder`).

    Stages: features = conv and blocks (samples -> frames), recur = the LSTM, head = Act and conv.
    """

    config: ml_collections.FrozenConfigDict  # the `encoder` section of a model config
    dtype: jnp.dtype = jnp.float32

    def setup(self):
        cfg = self.config
        width = cfg.ngf
        self.conv_in = WNConv(width, (7,), padding=(3,), dtype=self.dtype)
        blocks = []
        for stride in cfg.up_ratios:
            blocks.append(EncoderBlock(width, 2 * width, stride, tuple(cfg.dilations), self.dtype))
            width *= 2
        self.block = blocks
        self.lstm = ResLSTM(cfg.rnn_num_layers, self.dtype) if cfg.use_rnn else None
        self.act_out = MaskedAntiAliasedSnakeBeta(self.dtype)
        self.conv_out = WNConv(cfg.out_channels, (3,), padding=(1,), dtype=self.dtype)

    def feature_layers(self) -> list[Layer]:
        return [self.conv_in, *self.block]

    def head_layers(self) -> list[Layer]:
        return [self.act_out, self.conv_out]
