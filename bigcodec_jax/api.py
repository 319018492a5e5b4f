"""`BigCodec`: the public API. Load a checkpoint, encode audio to codes, decode codes to audio.

    codec = BigCodec.from_pretrained("bigcodec.pt")          # or .safetensors, a converted directory, a hub id
    codes = codec.encode(wav, sample_rate=16000)             # (B, n_q, ceil(samples / 200)) int32
    wav_hat = codec.decode(codes, length=wav.shape[-1])      # (B, samples) float32

Both calls are jitted once per input shape and reuse the compiled function afterwards.
"""
from __future__ import annotations

import contextlib
import math
import os
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from bigcodec_jax import audio
from bigcodec_jax import config as config_lib
from bigcodec_jax.checkpoints import pretrained
from bigcodec_jax.codec import BigCodecModel

DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


class BigCodec:
    """A loaded codec: config, generator parameters on device, and jitted encode/decode."""

    sample_rate = audio.SAMPLE_RATE

    def __init__(self, config: ml_collections.ConfigDict, params: dict[str, Any], dtype: str = "float32"):
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
        config_lib.validate(config)
        self.config = config
        self.dtype = dtype
        self.model = BigCodecModel(config, DTYPES[dtype])
        self.params = jax.tree.map(jnp.asarray, params)
        self.hop_length = config_lib.hop_length(config)
        self.num_quantizers = config.decoder.vq_num_quantizers
        self.codebook_size = config.decoder.codebook_size
        self._encode = jax.jit(self._encode_codes)
        self._decode = jax.jit(self._decode_codes)

    @classmethod
    def from_pretrained(cls, source: str | os.PathLike, dtype: str = "float32",
                        filename: str | None = None) -> "BigCodec":
        """Load a checkpoint: an official `.pt` / Lightning `.ckpt` or a `.safetensors` file (converted on the
        fly), a converted directory, or a model-hub id `owner/name[@revision]` (`filename` in that repository,
        default `bigcodec.pt`; needs the `[hub]` extra). A path that exists always wins over a hub id; the
        rules are in `checkpoints/pretrained.py`."""
        config, params = pretrained.load(source, filename)
        return cls(config, params["generator"], dtype)

    @classmethod
    def random(cls, variant: str = "tiny_train", seed: int = 0, dtype: str = "float32") -> "BigCodec":
        """A randomly initialised codec of a named variant (for smoke tests and demos)."""
        config = config_lib.model_config(variant)
        hop = config_lib.hop_length(config)
        params = jax.jit(BigCodecModel(config).init)(jax.random.PRNGKey(seed), jnp.zeros((1, hop)))["params"]
        return cls(config, params, dtype)

    def matmul_precision(self) -> contextlib.AbstractContextManager:
        """The context every device call runs in: float32 means float32 (no TF32 / bf16 passes on GPU and TPU)."""
        return jax.default_matmul_precision("highest" if self.dtype == "float32" else "default")

    def _encode_codes(self, params: dict[str, Any], wav: jax.Array) -> jax.Array:
        model = self.model
        latents = model.apply({"params": params}, wav, method=model.encode)
        return model.apply({"params": params}, latents, method=model.quantize)[1]

    def _decode_codes(self, params: dict[str, Any], codes: jax.Array) -> jax.Array:
        model = self.model
        quantized = model.apply({"params": params}, codes, method=model.embed)
        return model.apply({"params": params}, quantized, method=model.decode)

    def num_frames(self, samples: int) -> int:
        return math.ceil(samples / self.hop_length)

    def check_codes(self, codes: np.ndarray, length: int | None = None) -> int:
        """The output length (default frames * hop) after checking `codes` `(batch, n_q, frames)` and `length`.

        ValueError unless frames > 0, the codes are integers in `[0, codebook_size)` and
        `0 < length <= frames * hop`.
        """
        if codes.ndim != 3 or codes.shape[1] != self.num_quantizers or codes.shape[2] == 0:
            raise ValueError(f"codes must be (batch, {self.num_quantizers}, frames) with frames > 0, "
                             f"got shape {codes.shape}")
        if codes.dtype.kind not in "iu" or codes.min() < 0 or codes.max() >= self.codebook_size:
            raise ValueError(f"codes must be integers in [0, {self.codebook_size})")
        full = codes.shape[2] * self.hop_length
        if length is None:
            return full
        if not 0 < length <= full:
            raise ValueError(f"length must be in 1..{full} for {codes.shape[2]} frames, got {length}")
        return length

    def encode(self, wav: np.ndarray, sample_rate: int = audio.SAMPLE_RATE) -> np.ndarray:
        """Audio `(samples,)` or `(B, samples)` -> codes `(B, n_q, ceil(samples_16k / hop))` int32."""
        wav = audio.pad_to_multiple(audio.as_batch(wav, sample_rate), self.hop_length)
        with self.matmul_precision():
            return np.asarray(self._encode(self.params, wav))

    def decode(self, codes: np.ndarray, length: int | None = None) -> np.ndarray:
        """Codes `(B, n_q, frames)` or `(n_q, frames)` -> float32 audio `(B, length or frames * hop)` at 16 kHz."""
        codes = np.asarray(codes)
        if codes.ndim == 2:
            codes = codes[None]
        length = self.check_codes(codes, length)
        with self.matmul_precision():
            wav = self._decode(self.params, codes.astype(np.int32))
        return np.asarray(wav)[:, :length]
