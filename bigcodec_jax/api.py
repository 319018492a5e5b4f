"""`BigCodec`: the public API. Load a checkpoint, encode audio to codes, decode codes to audio.

    codec = BigCodec.from_pretrained("bigcodec.pt")          # or .safetensors, a converted directory, a hub id
    codes = codec.encode(wav, sample_rate=16000)             # (B, n_q, ceil(samples / 200)) int32
    wav_hat = codec.decode(codes, length=wav.shape[-1])      # (B, samples) float32

Both calls are jitted once per input shape and reuse the compiled function afterwards; inputs
longer than the window (default 30 s) run in chunks of bounded memory with the same results.
"""
from __future__ import annotations

import math
import os
from fractions import Fraction
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from bigcodec_jax import audio
from bigcodec_jax.codec import config as config_lib
from bigcodec_jax.checkpoints import pretrained
from bigcodec_jax.codec import BigCodecModel
from bigcodec_jax.codec.model import DTYPES
from bigcodec_jax.codec.passes import Passes, passes_for, shortest_window
from bigcodec_jax.codec.stream_steps import stream_passes_for
from bigcodec_jax.codes import check_code_array
from bigcodec_jax.streaming import DEFAULT_BLOCK_FRAMES, StreamDecoder, StreamEncoder


class BigCodec:
    """A loaded codec: frozen config, generator parameters on device, and the shared jitted passes.

    Inputs longer than `window_seconds` run through the exact chunked path, so memory stops
    growing with their length while codes stay identical (audio equal to float32 rounding).
    """

    family = "bigcodec"
    sample_rate = output_sample_rate = audio.SAMPLE_RATE

    def __init__(self, config: ml_collections.ConfigDict, params: dict[str, Any], dtype: str = "float32",
                 window_seconds: float = 30.0):
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
        self.config = config_lib.freeze(config)
        self.dtype = dtype
        self.model = BigCodecModel(self.config, DTYPES[dtype])
        self.params = jax.tree.map(jnp.asarray, params)
        self.hop_length = config_lib.hop_length(self.config)
        self.num_quantizers = self.config.decoder.vq_num_quantizers
        self.codebook_size = self.config.decoder.codebook_size
        self.frame_rate = audio.SAMPLE_RATE / self.hop_length
        self.passes = self.passes_for_window(window_seconds)

    @classmethod
    def from_pretrained(cls, source: str | os.PathLike, dtype: str = "float32", window_seconds: float = 30.0,
                        step: int | None = None, filename: str | None = None) -> "BigCodec":
        """Load a checkpoint: an official `.pt` / Lightning `.ckpt` or a `.safetensors` file (converted on the
        fly), a converted directory, the generator of a `train.py` run directory (its latest checkpoint, or the
        one of `step`), or a model-hub id `owner/name[@revision]` (`filename` in that repository, default
        `bigcodec.pt`; needs the `[hub]` extra). A path that exists always wins over a hub id; the rules are in
        `checkpoints/pretrained.py`. An X-Codec2 / NeuCodec checkpoint is refused, naming the class that loads it."""
        config, params = pretrained.load(source, filename, step, family=cls.family)
        return cls(config, params["generator"], dtype, window_seconds)

    @classmethod
    def random(cls, variant: str = "tiny_train", seed: int = 0, dtype: str = "float32") -> "BigCodec":
        """A randomly initialised codec of a named variant (for smoke tests and demos)."""
        config = config_lib.freeze(config_lib.model_config(variant))
        hop = config_lib.hop_length(config)
        params = jax.jit(BigCodecModel(config).init)(jax.random.PRNGKey(seed), jnp.zeros((1, hop)))["params"]
        return cls(config, params, dtype)

    def seconds_to_frames(self, seconds: float) -> int:
        """Code frames in `seconds` of audio (rounded)."""
        return round(seconds * audio.SAMPLE_RATE / self.hop_length)

    def shortest_window_seconds(self) -> float:
        """The shortest `window_seconds` this model takes: its shortest exact chunk window
        (`passes.shortest_window`), rounded up to 0.1 ms (0.8125 s for the released model)."""
        frames = shortest_window(self.config)
        return math.ceil(Fraction(frames * self.hop_length, audio.SAMPLE_RATE) * 10_000) / 10_000

    def passes_for_window(self, window_seconds: float) -> Passes:
        """The shared jitted passes with chunks of `window_seconds`; ValueError, in seconds, for a window that is
        not a positive number or is shorter than `shortest_window_seconds()`."""
        audio.check_window_seconds(window_seconds)
        shortest = self.shortest_window_seconds()
        if window_seconds < shortest:  # in seconds, so that the window named is the one refused and accepted
            raise ValueError(f"a window of {window_seconds:g} s is shorter than this model's receptive field: "
                             f"it must be at least {shortest:g} seconds")
        return passes_for(self.config, self.dtype, self.seconds_to_frames(window_seconds))

    def num_frames(self, samples: int) -> int:
        return math.ceil(samples / self.hop_length)

    def check_codes(self, codes: np.ndarray, length: int | None = None) -> int:
        """The output length (default frames * hop) after checking `codes` `(batch, n_q, frames)` and `length`.

        ValueError unless batch and frames > 0, the codes are integers in `[0, codebook_size)` and `length` is a
        whole number with `0 < length <= frames * hop`.
        """
        check_code_array(codes, self.num_quantizers, self.codebook_size)
        return audio.decoded_length(length, codes.shape[2], self.hop_length)

    def encode(self, wav: np.ndarray, sample_rate: int = audio.SAMPLE_RATE) -> np.ndarray:
        """Audio `(samples,)` or `(B, samples)` -> codes `(B, n_q, ceil(samples_16k / hop))` int32."""
        wav = audio.pad_to_multiple(audio.as_batch(wav, sample_rate), self.hop_length)
        return self.passes.encode.run(self.params, wav, None)

    def decode(self, codes: np.ndarray, length: int | None = None) -> np.ndarray:
        """Codes `(B, n_q, frames)` or `(n_q, frames)` -> float32 audio `(B, length or frames * hop)` at 16 kHz."""
        codes = audio.as_array(codes, "codes must be an integer array")
        if codes.ndim == 2:
            codes = codes[None]
        length = self.check_codes(codes, length)
        return self.passes.decode.run(self.params, codes.astype(np.int32), None)[:, :length]

    def stream_encoder(self, batch_size: int = 1, lookahead_frames: int | None = None,
                       block_frames: tuple[int, ...] = DEFAULT_BLOCK_FRAMES) -> StreamEncoder:
        """A stream of `batch_size` signals at 16 kHz: `push(wav_piece)` returns the codes that became final.

        The codes equal `encode` of the whole signals; `lookahead_frames` below the exact lookahead
        trades that for latency (see `bigcodec_jax/streaming.py`).
        """
        return StreamEncoder(stream_passes_for(self.config, self.dtype).encode, self.params, self.num_quantizers,
                             batch_size, lookahead_frames, block_frames, self.sample_rate)

    def stream_decoder(self, batch_size: int = 1, lookahead_frames: int | None = None,
                       block_frames: tuple[int, ...] = DEFAULT_BLOCK_FRAMES) -> StreamDecoder:
        """A stream of `batch_size` code sequences: `push(codes_piece)` returns the audio that became final.

        The audio equals `decode` of the whole sequences to float32 rounding.
        """
        return StreamDecoder(stream_passes_for(self.config, self.dtype).decode, self.params, self.num_quantizers,
                             self.codebook_size, batch_size, lookahead_frames, block_frames, self.sample_rate)
