"""The BigCodec decoder: quantised latents `(B, F, in_channels)` -> waveform `(B, F * hop, 1)`."""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from bigcodec_jax.codec.blocks import DecoderBlock
from bigcodec_jax.nn.activations import AntiAliasedSnakeBeta
from bigcodec_jax.nn.recurrent import ResLSTM
from bigcodec_jax.nn.weight_norm import WNConv


class Decoder(nn.Module):
    """Conv, ResLSTM, DecoderBlocks halving the width, Act, Conv, tanh (official `CodecDecoder.model`)."""

    config: ml_collections.ConfigDict  # the `decoder` section of a model config
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        cfg = self.config
        width = cfg.upsample_initial_channel
        x = WNConv(width, (7,), padding=(3,), dtype=self.dtype, name="conv_in")(x)
        if cfg.use_rnn:
            x = ResLSTM(cfg.rnn_num_layers, self.dtype, name="lstm")(x)
        for i, stride in enumerate(cfg.up_ratios):
            width //= 2
            x = DecoderBlock(width, stride, tuple(cfg.dilations), self.dtype, name=f"block_{i}")(x)
        x = AntiAliasedSnakeBeta(self.dtype, name="act_out")(x)
        x = WNConv(1, (7,), padding=(3,), dtype=self.dtype, name="conv_out")(x)
        return jnp.tanh(x)
