"""The semantic adapter (official `SemanticEncoder`): k3 convolutions over w2v-BERT features, one residual.

Official: `h = initial_conv(x)`, `y = residual_blocks(h) + h`, `final_conv(y)`, where `residual_blocks` is
`ReLU(inplace=True), conv, ReLU, conv`. The in-place ReLU overwrites `h` before the sum reads it, so the
residual really adds `relu(h)`: `final_conv(conv(relu(conv(relu(h)))) + relu(h))`. That is what this module
computes (it changes the output by the order of its own size, so it is not a detail). The outer convolutions
have no bias, the inner ones do. With valid `lengths`, every convolution sees zeros after them.
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from bigcodec_jax.nn.resnet1d import same_conv1d


class SemanticAdapter(nn.Module):
    """`(B, F, channels)` -> `(B, F, out_channels)`."""

    channels: int
    out_channels: int
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, lengths: jax.Array | None = None) -> jax.Array:
        x = x.astype(self.dtype)
        h = nn.relu(same_conv1d(self.channels, 3, self.dtype, "initial_conv", use_bias=False)(x, lengths))
        r = nn.relu(same_conv1d(self.channels, 3, self.dtype, "residual_conv_1")(h, lengths))
        r = same_conv1d(self.channels, 3, self.dtype, "residual_conv_2")(r, lengths)
        return same_conv1d(self.out_channels, 3, self.dtype, "final_conv", use_bias=False)(r + h, lengths)
