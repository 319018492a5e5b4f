"""The X-Codec2 / NeuCodec network as one Flax module: the encode/decode surface every caller uses.

    codes = model.apply(v, wav, features, samples, feature_frames, method=XCodec2Model.encode_codes)
    audio = model.apply(v, codes, frames, method=XCodec2Model.decode_codes)

Encoding runs two encoders side by side: BigCodec's acoustic encoder (`codec.encoder.Encoder`, without
its LSTM) on the padded waveform, and w2v-BERT's first 16 layers plus a small convolutional adapter on
the log-mel features. Their frames are concatenated (the shorter sets the length: NeuCodec's features
are one frame short), projected by `fc_prior` and quantised by an FSQ into one code a frame. Decoding
looks the codes up, projects them by `fc_post_a` and runs the Vocos decoder. Inputs are right-padded
batches; with valid lengths each example gets exactly what it gets alone.
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from bigcodec_jax.codec.blocks import Lengths
from bigcodec_jax.codec.encoder import Encoder
from bigcodec_jax.nn.fsq import ResidualFSQ
from bigcodec_jax.xcodec2.adapter import SemanticAdapter
from bigcodec_jax.xcodec2.decoder import VocosDecoder
from bigcodec_jax.xcodec2.semantic import W2vBert, W2vBertConfig


def acoustic_encoder_config(config: ml_collections.FrozenConfigDict) -> ml_collections.FrozenConfigDict:
    """BigCodec's encoder config for the family's acoustic encoder: the same blocks, no LSTM."""
    enc = config.encoder
    return ml_collections.FrozenConfigDict(dict(ngf=enc.ngf, up_ratios=enc.up_ratios, dilations=enc.dilations,
                                                out_channels=enc.out_channels, use_rnn=False, rnn_num_layers=0))


def semantic_config(config: ml_collections.FrozenConfigDict) -> W2vBertConfig:
    sem = config.semantic
    return W2vBertConfig(hidden_size=sem.hidden_size, num_layers=sem.num_layers, num_heads=sem.num_heads,
                         intermediate_size=sem.intermediate_size, conv_kernel=sem.conv_kernel,
                         left_max_positions=sem.left_max_positions, right_max_positions=sem.right_max_positions)


class XCodec2Model(nn.Module):
    """Parameters `acoustic`, `semantic`, `adapter`, `fc_prior`, `quantizer`, `fc_post_a`, `decoder`."""

    config: ml_collections.FrozenConfigDict  # `xcodec2.config.freeze` of a family config
    dtype: jnp.dtype = jnp.float32

    def setup(self):
        c = self.config
        self.acoustic = Encoder(acoustic_encoder_config(c), self.dtype)
        self.semantic = W2vBert(semantic_config(c), self.dtype)
        self.adapter = SemanticAdapter(c.semantic.hidden_size, c.adapter.out_channels, self.dtype)
        self.fc_prior = nn.Dense(c.quantizer.dim, dtype=self.dtype)
        self.quantizer = ResidualFSQ(c.quantizer.dim, tuple(c.quantizer.levels), self.dtype)
        self.fc_post_a = nn.Dense(c.decoder.hidden, dtype=self.dtype)
        self.decoder = VocosDecoder(c.decoder.hidden, c.decoder.depth, c.decoder.heads, c.decoder.rotary_dim,
                                    c.decoder.hop, self.dtype)

    def latents(self, wav: jax.Array, features: jax.Array, samples: Lengths = None,
                feature_frames: Lengths = None) -> jax.Array:
        """Padded audio `(B, T)` (T a multiple of 320) and its semantic features `(B, F_s, 160)` -> the FSQ's
        input `(B, min(T / 320, F_s), dim)`. `samples` / `feature_frames` are the valid lengths of each."""
        acoustic = self.acoustic(wav[..., None], samples)
        semantic = self.adapter(self.semantic(features, feature_frames), feature_frames)
        frames = min(acoustic.shape[1], semantic.shape[1])
        joint = jnp.concatenate([semantic[:, :frames].astype(self.dtype), acoustic[:, :frames].astype(self.dtype)],
                                axis=-1)
        return self.fc_prior(joint)

    def encode_codes(self, wav: jax.Array, features: jax.Array, samples: Lengths = None,
                     feature_frames: Lengths = None) -> jax.Array:
        """-> codes `(B, 1, frames)` int32 (one FSQ code a frame, as BigCodec's `(B, n_q, frames)`)."""
        return self.quantizer(self.latents(wav, features, samples, feature_frames))[1][:, None, :]

    def embed(self, codes: jax.Array) -> jax.Array:
        """Codes `(B, 1, F)` -> the decoder's input `(B, F, hidden)`."""
        return self.fc_post_a(self.quantizer.embed(codes[:, 0, :]))

    def decode_codes(self, codes: jax.Array, frames: Lengths = None) -> jax.Array:
        """Codes `(B, 1, F)` -> float32 audio `(B, F * decoder.hop)` at the output rate."""
        return self.decoder(self.embed(codes), frames)

    def __call__(self, wav: jax.Array, features: jax.Array) -> jax.Array:
        """Encode and decode (initialises every parameter)."""
        return self.decode_codes(self.encode_codes(wav, features))
