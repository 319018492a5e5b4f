"""The whole generator as one Flax module with an `encode / quantize / embed / decode` interface."""
from __future__ import annotations

from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from bigcodec_jax.codec.decoder import Decoder
from bigcodec_jax.codec.encoder import Encoder
from bigcodec_jax.codec.quantizer import ResidualVQ


class CodecOutput(NamedTuple):
    recon: jax.Array      # (B, T) float32 reconstruction
    codes: jax.Array      # (B, n_q, F) int32
    vq_loss: jax.Array    # (n_q,) training loss of each quantiser
    latents: jax.Array    # (B, F, C) encoder output
    quantized: jax.Array  # (B, F, C) quantiser output (straight-through)


class BigCodecModel(nn.Module):
    """Encoder, residual VQ and decoder; parameters `encoder`, `quantizer`, `decoder`.

    Waveforms are `(B, T)` with `T` a multiple of the hop length; latents are channels-last.
    """

    config: ml_collections.ConfigDict  # a model config (`bigcodec_jax.config.model_config`)
    dtype: jnp.dtype = jnp.float32

    def setup(self):
        dec = self.config.decoder
        self.encoder = Encoder(self.config.encoder, self.dtype)
        self.quantizer = ResidualVQ(dec.vq_num_quantizers, dec.vq_dim, dec.codebook_size, dec.codebook_dim,
                                    dec.vq_commit_weight, self.dtype)
        self.decoder = Decoder(dec, self.dtype)

    def encode(self, wav: jax.Array) -> jax.Array:
        return self.encoder(wav[..., None])

    def quantize(self, latents: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        return self.quantizer(latents)

    def embed(self, codes: jax.Array) -> jax.Array:
        return self.quantizer.embed(codes)

    def decode(self, quantized: jax.Array) -> jax.Array:
        return self.decoder(quantized)[..., 0].astype(jnp.float32)

    def __call__(self, wav: jax.Array) -> CodecOutput:
        latents = self.encode(wav)
        quantized, codes, vq_loss = self.quantize(latents)
        return CodecOutput(self.decode(quantized), codes, vq_loss, latents, quantized)
