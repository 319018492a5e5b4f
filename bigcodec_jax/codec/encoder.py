"""The BigCodec encoder: waveform `(B, T, 1)` -> latents `(B, T / hop, out_channels)`."""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from bigcodec_jax.codec.blocks import EncoderBlock
from bigcodec_jax.nn.activations import AntiAliasedSnakeBeta
from bigcodec_jax.nn.recurrent import ResLSTM
from bigcodec_jax.nn.weight_norm import WNConv


class Encoder(nn.Module):
    """Conv, EncoderBlocks doubling the width, ResLSTM, Act, Conv (official `CodecEncoder`)."""

    config: ml_collections.ConfigDict  # the `encoder` section of a model config
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        cfg = self.config
        width = cfg.ngf
        x = WNConv(width, (7,), padding=(3,), dtype=self.dtype, name="conv_in")(x)
        for i, stride in enumerate(cfg.up_ratios):
            width *= 2
            x = EncoderBlock(width, stride, tuple(cfg.dilations), self.dtype, name=f"block_{i}")(x)
        if cfg.use_rnn:
            x = ResLSTM(cfg.rnn_num_layers, self.dtype, name="lstm")(x)
        x = AntiAliasedSnakeBeta(self.dtype, name="act_out")(x)
        return WNConv(cfg.out_channels, (3,), padding=(1,), dtype=self.dtype, name="conv_out")(x)
