"""`XCodec2` and `NeuCodec`: the public API of BigCodec's descendants, the same surface as `BigCodec`.

    codec = NeuCodec.from_pretrained("neuphonic/neucodec")   # or a released file, a converted directory
    codec = XCodec2.from_pretrained("ckpt.safetensors", semantic="facebook/w2v-bert-2.0")  # without w2v-BERT
    codes = codec.encode(wav, sample_rate=16000)             # (B, 1, frames) int32, 50 frames a second
    audio = codec.decode(codes)                              # (B, frames * 480) float32 at 24 kHz

`encode_batch` / `decode_batch` take clips of different lengths in one padded batch and give each
exactly what it gets alone (what the official code, which encodes one clip at a time, cannot do).
"""
from __future__ import annotations

import math
import os
from typing import Any, Protocol, Sequence

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from bigcodec_jax import audio, model_configs
from bigcodec_jax.api import BigCodec
from bigcodec_jax.checkpoints import pretrained
from bigcodec_jax.codec.model import DTYPES
from bigcodec_jax.codes import check_code_values
from bigcodec_jax.xcodec2 import config as config_lib
from bigcodec_jax.xcodec2.model import XCodec2Model
from bigcodec_jax.xcodec2.prepare import code_frames, prepare


class Codec(Protocol):
    """What every codec of the family tells and does (`BigCodec`, `XCodec2`, `NeuCodec`)."""

    family: str               # "bigcodec", "xcodec2" or "neucodec"
    sample_rate: int          # the rate `encode` works at (16 kHz); other rates are resampled
    output_sample_rate: int   # the rate `decode` returns
    frame_rate: float         # code frames a second
    num_quantizers: int       # codes a frame
    codebook_size: int        # distinct values of a code

    def encode(self, wav: np.ndarray, sample_rate: int = audio.SAMPLE_RATE) -> np.ndarray: ...

    def decode(self, codes: np.ndarray, length: int | None = None) -> np.ndarray: ...


def bits_per_second(codec: Codec) -> float:
    """The codec's bit rate: frames a second times codes a frame times bits a code."""
    return codec.frame_rate * codec.num_quantizers * math.log2(codec.codebook_size)


class XCodec2:
    """A loaded X-Codec2 or NeuCodec (`config.family`): frozen config, parameters on device, jitted passes."""

    FAMILY = "xcodec2"  # what `from_pretrained` loads
    sample_rate = audio.SAMPLE_RATE
    num_quantizers = 1

    def __init__(self, config: ml_collections.ConfigDict, params: dict[str, Any], dtype: str = "float32"):
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
        self.config = config_lib.freeze(config)
        self.family = self.config.family
        self.dtype = dtype
        self.model = XCodec2Model(self.config, DTYPES[dtype])
        self.params = jax.tree.map(jnp.asarray, params)
        self.hop_length = config_lib.hop_length(self.config)
        self.output_hop = self.config.decoder.hop
        self.output_sample_rate = config_lib.output_sample_rate(self.config)
        self.frame_rate = config_lib.frame_rate(self.config)
        self.codebook_size = config_lib.codebook_size(self.config)
        self._encode = jax.jit(lambda p, *a: self.model.apply({"params": p}, *a, method=XCodec2Model.encode_codes))
        self._decode = jax.jit(lambda p, *a: self.model.apply({"params": p}, *a, method=XCodec2Model.decode_codes))

    @classmethod
    def from_pretrained(cls, source: str | os.PathLike, semantic: str | os.PathLike | None = None,
                        dtype: str = "float32", filename: str | None = None) -> "XCodec2":
        """Load a checkpoint of this class's family: a release file (X-Codec2's `model.safetensors` or Lightning
        `.ckpt`, NeuCodec's `pytorch_model.bin`), transformers' X-Codec2 port (`model.safetensors` with its
        `config.json`, or their folder), a converted directory or safetensors export, or a hub id
        (`HKUSTAudio/xcodec2`, `HKUSTAudio/xcodec2-hf`, `neuphonic/neucodec`; `filename` picks another file).
        `semantic`: the semantic model's source when the checkpoint lacks it (see `load_codec`).
        CheckpointError naming the class that loads a checkpoint of another family."""
        config, params = pretrained.load(source, filename, semantic=semantic, family=cls.FAMILY)
        return cls(config, params["model"], dtype)

    @classmethod
    def random(cls, family: str = "xcodec2", size: str = "micro", seed: int = 0, dtype: str = "float32") -> "XCodec2":
        """A randomly initialised codec of a family at a named size (for smoke tests)."""
        config = config_lib.freeze(config_lib.model_config(family, size))
        wav, features = prepare(np.zeros(320, np.float32), family)
        params = jax.jit(XCodec2Model(config).init)(jax.random.PRNGKey(seed), wav[None], features[None])["params"]
        return cls(config, params, dtype)

    def encode_batch(self, wavs: Sequence[np.ndarray], sample_rate: int = audio.SAMPLE_RATE) -> list[np.ndarray]:
        """Clips `(samples_i,)` of any lengths -> their codes `(1, frames_i)` int32, each as if encoded alone."""
        prepared = [prepare(audio.as_batch(wav, sample_rate)[0], self.family) for wav in wavs]
        frames = [code_frames(wav, features) for wav, features in prepared]
        wav_batch, samples = _right_padded([wav for wav, _ in prepared])
        feature_batch, feature_frames = _right_padded([features for _, features in prepared])
        codes = np.asarray(self._encode(self.params, wav_batch, feature_batch, samples, feature_frames))
        return [row[:, :n] for row, n in zip(codes, frames)]

    def encode(self, wav: np.ndarray, sample_rate: int = audio.SAMPLE_RATE) -> np.ndarray:
        """Audio `(samples,)` or `(B, samples)` -> codes `(B, 1, frames)` int32."""
        return np.stack(self.encode_batch(list(audio.as_batch(wav, sample_rate)), audio.SAMPLE_RATE))

    def check_codes(self, codes: np.ndarray, length: int | None = None) -> int:
        """The output length (default frames * output hop) after checking `codes` `(batch, 1, frames)`."""
        if codes.ndim != 3 or codes.shape[1] != 1 or codes.shape[0] == 0 or codes.shape[2] == 0:
            raise ValueError(f"codes must be (batch, 1, frames) with batch and frames > 0, got shape {codes.shape}")
        check_code_values(codes, self.codebook_size)
        full = codes.shape[2] * self.output_hop
        if length is None:
            return full
        length = audio.whole_number(length, "length")
        if not 0 < length <= full:
            raise ValueError(f"length must be in 1..{full} for {codes.shape[2]} frames, got {length}")
        return length

    def decode_batch(self, codes: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Code sequences `(1, frames_i)` -> audio `(frames_i * output hop,)` each, as if decoded alone."""
        codes = [audio.as_array(c, "codes must be an integer array") for c in codes]
        for c in codes:
            self.check_codes(c[None] if c.ndim == 2 else c)
        batch, frames = _right_padded([c.reshape(1, -1).T for c in codes])
        wav = np.asarray(self._decode(self.params, batch[..., 0][:, None, :].astype(np.int32), frames))
        return [row[:n * self.output_hop] for row, n in zip(wav, frames)]

    def decode(self, codes: np.ndarray, length: int | None = None) -> np.ndarray:
        """Codes `(B, 1, frames)` or `(1, frames)` -> float32 audio `(B, length or frames * hop)` at the output
        rate (`output_sample_rate`)."""
        codes = audio.as_array(codes, "codes must be an integer array")
        if codes.ndim == 2:
            codes = codes[None]
        length = self.check_codes(codes, length)
        return np.asarray(self._decode(self.params, codes.astype(np.int32), None))[:, :length]

    def num_frames(self, samples: int) -> int:
        """Code frames of a 16 kHz clip of `samples` (0: too short to encode)."""
        from bigcodec_jax.xcodec2 import passes as family_passes
        return family_passes.num_frames(samples, self.family)

    def seconds_to_frames(self, seconds: float) -> int:
        """Code frames in `seconds` of audio (rounded)."""
        return round(seconds * self.frame_rate)

    def passes_for_window(self, window_seconds: float) -> Any:
        """The jitted passes (`xcodec2.passes.Passes`) behind the batched interface of `codec/passes.py`, for
        `inference.BatchCodec`: batches longer than `window_seconds` run clip by clip through `encode_batch` /
        `decode_batch`."""
        if isinstance(window_seconds, bool) or not isinstance(window_seconds, (int, float, np.integer, np.floating)) \
                or not (math.isfinite(window_seconds) and window_seconds > 0):
            raise ValueError(f"window_seconds must be a positive number of seconds, got {window_seconds!r}")
        from bigcodec_jax.xcodec2 import passes as family_passes
        window = max(1, self.seconds_to_frames(window_seconds))
        encode, decode = family_passes.jitted(self.config, self.dtype)
        return family_passes.Passes(
            family_passes.EncodePass(encode, lambda clip: self.encode_batch([clip])[0], self.family, window),
            family_passes.DecodePass(decode, lambda codes: self.decode_batch([codes])[0], window, self.output_hop))


class NeuCodec(XCodec2):
    """NeuCodec: X-Codec2's network with a 24 kHz decoder (`XCodec2` with `config.family == "neucodec"`)."""

    FAMILY = "neucodec"

    @classmethod
    def random(cls, family: str = "neucodec", size: str = "micro", seed: int = 0, dtype: str = "float32"
               ) -> "XCodec2":
        return super().random(family, size, seed, dtype)


_CLASSES = {"xcodec2": XCodec2, "neucodec": NeuCodec}  # what `load_codec` builds for each family


def _right_padded(rows: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Arrays `(n_i, ...)` -> zeros-padded `(B, max n_i, ...)` and the lengths `(B,)` int32."""
    lengths = np.array([row.shape[0] for row in rows], np.int32)
    out = np.zeros((len(rows), int(lengths.max()), *rows[0].shape[1:]), rows[0].dtype)
    for i, row in enumerate(rows):
        out[i, :row.shape[0]] = row
    return out, lengths


def load_codec(source: str | os.PathLike, semantic: str | os.PathLike | None = None,
               config: ml_collections.ConfigDict | None = None, dtype: str = "float32",
               filename: str | None = None) -> "BigCodec | XCodec2":
    """The codec a source holds, whichever family: anything `BigCodec.from_pretrained` reads, an X-Codec2 /
    NeuCodec release (file, folder or hub id), transformers' X-Codec2 port, or a converted directory or
    safetensors export of any family (the rules: `checkpoints/pretrained.py`).

    `semantic`: where the semantic model's weights come from when the checkpoint lacks them (`facebook/w2v-bert-2.0`,
    the path of its `model.safetensors` or its folder). `config` overrides the config inferred from tensor shapes
    (they do not tell the decoder's attention heads of a model of other sizes than the releases')."""
    loaded, params = pretrained.load(source, filename, semantic=semantic, config=config)
    family = model_configs.family(loaded)
    if family == model_configs.BIGCODEC:
        return BigCodec(loaded, params["generator"], dtype)
    return _CLASSES[family](loaded, params["model"], dtype)
