"""The whole generator as one Flax module: the one encode/decode surface of the project.

Everything that encodes or decodes (the `BigCodec` API, batched and chunked inference,
streaming, evaluation and training) calls these methods:

- `encode_codes(wav, samples)` / `decode_codes(codes, frames)`: whole right-padded batches, each
  example exact to its valid length when lengths are given;
- `encode_chunk` / `decode_chunk`: one chunk of the bounded-memory path (`codec/chunking.py`);
- `encode`, `quantize`, `embed`, `decode` and `__call__`: the parts, for training and tests.
"""
from __future__ import annotations

from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from bigcodec_jax.codec.blocks import Lengths
from bigcodec_jax.codec.chunking import ChunkPlan
from bigcodec_jax.codec.decoder import Decoder
from bigcodec_jax.codec.encoder import Encoder
from bigcodec_jax.codec.quantizer import ResidualVQ
from bigcodec_jax.codec.stages import RecurState, StagedNetwork

DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}  # compute dtypes by name


class CodecOutput(NamedTuple):
    recon: jax.Array      # (B, T) float32 reconstruction
    codes: jax.Array      # (B, n_q, F) int32
    vq_loss: jax.Array    # (n_q,) training loss of each quantiser
    latents: jax.Array    # (B, F, C) encoder output
    quantized: jax.Array  # (B, F, C) quantiser output (straight-through)


class ChunkOutput(NamedTuple):
    outputs: jax.Array    # codes (B, n_q, window frames) or audio (B, window samples)
    state: RecurState     # the LSTM state after this chunk's new frames
    history: jax.Array    # the last `plan.history` LSTM outputs, read by the next chunk's head


class BigCodecModel(nn.Module):
    """Encoder, residual VQ and decoder; parameters `encoder`, `quantizer`, `decoder`.

    Waveforms are `(B, T)` with `T` a multiple of the hop length; latents are channels-last.
    `samples` / `frames` are optional valid lengths `(B,)` of a right-padded batch.
    """

    config: ml_collections.FrozenConfigDict  # a frozen model config (`bigcodec_jax.codec.config.freeze`)
    dtype: jnp.dtype = jnp.float32

    def setup(self):
        dec = self.config.decoder
        self.encoder = Encoder(self.config.encoder, self.dtype)
        self.quantizer = ResidualVQ(dec.vq_num_quantizers, dec.vq_dim, dec.codebook_size, dec.codebook_dim,
                                    dec.vq_commit_weight, self.dtype)
        self.decoder = Decoder(dec, self.dtype)

    def encode(self, wav: jax.Array, samples: Lengths = None) -> jax.Array:
        """Audio `(B, T)` -> latents `(B, T / hop, C)`."""
        return self.encoder(wav[..., None], samples)

    def quantize(self, latents: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        """Latents -> (quantised latents, codes `(B, n_q, F)` int32, per-quantiser losses `(n_q,)`)."""
        return self.quantizer(latents)

    def embed(self, codes: jax.Array) -> jax.Array:
        """Codes `(B, n_q, F)` -> quantised latents `(B, F, C)`."""
        return self.quantizer.embed(codes)

    def decode(self, quantized: jax.Array, frames: Lengths = None) -> jax.Array:
        """Quantised latents `(B, F, C)` -> float32 audio `(B, F * hop)`."""
        return self.decoder(quantized, frames)[..., 0].astype(jnp.float32)

    def encode_codes(self, wav: jax.Array, samples: Lengths = None) -> jax.Array:
        """Audio `(B, T)` -> codes `(B, n_q, T / hop)` int32."""
        return self.quantize(self.encode(wav, samples))[1]

    def decode_codes(self, codes: jax.Array, frames: Lengths = None) -> jax.Array:
        """Codes `(B, n_q, F)` -> float32 audio `(B, F * hop)`."""
        return self.decode(self.embed(codes), frames)

    def encode_chunk(self, wav: jax.Array, samples: jax.Array, frames: jax.Array, state: RecurState = None,
                     history: jax.Array | None = None, *, plan: ChunkPlan) -> ChunkOutput:
        """One chunk of `chunking.run_chunked`: audio `(B, plan.window * hop)` -> codes of the head's window."""
        out = self._chunk(self.encoder, wav[..., None], samples, frames, state, history, plan)
        return out._replace(outputs=self.quantize(out.outputs)[1])

    def decode_chunk(self, codes: jax.Array, frames_in: jax.Array, frames: jax.Array, state: RecurState = None,
                     history: jax.Array | None = None, *, plan: ChunkPlan) -> ChunkOutput:
        """One chunk of `chunking.run_chunked`: codes `(B, n_q, plan.window)` -> audio of the head's window."""
        out = self._chunk(self.decoder, self.embed(codes), frames_in, frames, state, history, plan)
        return out._replace(outputs=out.outputs[..., 0].astype(jnp.float32))

    def _chunk(self, net: StagedNetwork, x: jax.Array, input_lengths: jax.Array, window_lengths: jax.Array,
               state: RecurState, history: jax.Array | None, plan: ChunkPlan) -> ChunkOutput:
        """Features of the input slice, `plan.new` LSTM steps from `state`, head on history + new outputs.

        The first chunk of a file passes no state and history: its features start at the file's start.
        """
        start = 0 if history is None else plan.features.left
        y, state = net.recur(net.features(x, input_lengths)[:, start:start + plan.new], state)
        window = y if history is None else jnp.concatenate([history, y], axis=1)
        return ChunkOutput(net.head(window, window_lengths), state, window[:, window.shape[1] - plan.history:])

    def __call__(self, wav: jax.Array) -> CodecOutput:
        latents = self.encode(wav)
        quantized, codes, vq_loss = self.quantize(latents)
        return CodecOutput(self.decode(quantized), codes, vq_loss, latents, quantized)
