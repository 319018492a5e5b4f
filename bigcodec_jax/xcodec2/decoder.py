"""The Vocos decoder of X-Codec2 and NeuCodec: post-quantiser latents `(B, F, hidden)` -> audio `(B, F * hop)`.

Official `CodecDecoderVocos` without its quantiser: `embed` (k7 convolution), two `ResnetBlock`s, `depth`
transformer blocks (whose rotary embedding cancels, see `nn/rotary_transformer.py`), two more
`ResnetBlock`s, a final LayerNorm, and the ISTFT head (`n_fft = 4 * hop`; X-Codec2 hop 320 at 16 kHz,
NeuCodec hop 480 at 24 kHz). Valid `frames (B,)` make a right-padded batch give each example exactly its
audio alone (followed by zeros).
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from bigcodec_jax.nn.istft import ISTFTHead
from bigcodec_jax.nn.resnet1d import ResnetBlock, same_conv1d
from bigcodec_jax.nn.rotary_transformer import TransformerBlock

RESNET_BLOCKS = 2  # before and after the transformer


class VocosDecoder(nn.Module):
    """`(B, F, hidden)` -> float32 audio `(B, F * hop)`; `backbone` gives the features before the head."""

    hidden: int
    depth: int
    heads: int
    rotary_dim: int
    hop: int
    dtype: jnp.dtype = jnp.float32

    def setup(self) -> None:
        self.embed = same_conv1d(self.hidden, 7, self.dtype)
        self.prior_net = [ResnetBlock(dtype=self.dtype) for _ in range(RESNET_BLOCKS)]
        self.transformers = [TransformerBlock(self.heads, self.rotary_dim, self.dtype) for _ in range(self.depth)]
        self.post_net = [ResnetBlock(dtype=self.dtype) for _ in range(RESNET_BLOCKS)]
        self.final_layer_norm = nn.LayerNorm(epsilon=1e-6, dtype=self.dtype, use_fast_variance=False)
        self.head = ISTFTHead(self.hop)

    def backbone(self, x: jax.Array, frames: jax.Array | None = None) -> jax.Array:
        """`(B, F, hidden)` -> `(B, F, hidden)`: everything before the head (after the final LayerNorm)."""
        x = self.embed(x.astype(self.dtype), frames)
        for block in self.prior_net:
            x = block(x, frames)
        for block in self.transformers:
            x = block(x, frames)
        for block in self.post_net:
            x = block(x, frames)
        return self.final_layer_norm(x)

    def __call__(self, x: jax.Array, frames: jax.Array | None = None) -> jax.Array:
        """Float32 audio `(B, F * hop)`; samples after `frames * hop` are zero."""
        return self.head(self.backbone(x, frames), frames)
