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
from bigcodec_jax.codes import check_code_array
from bigcodec_jax.xcodec2 import config as config_lib
from bigcodec_jax.xcodec2.model import XCodec2Model
from bigcodec_jax.xcodec2 import windows
from bigcodec_jax.xcodec2.prepare import HOP, code_frames, prepare

WINDOW_SECONDS = 30.0   # clips up to this run whole (exact), longer ones in chunks (docs/family_long_audio.md)
CONTEXT_FRACTION = 0.2  # each chunk reads this fraction of the window on either side of the frames it keeps
FADE_SECONDS = 0.0      # a hard cut: crossfades measured no better (that page)


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

    def __init__(self, config: ml_collections.ConfigDict, params: dict[str, Any], dtype: str = "float32",
                 window_seconds: float = WINDOW_SECONDS):
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
        self.window_frames, self.context_frames = self.frames_for_window(window_seconds)

    @classmethod
    def from_pretrained(cls, source: str | os.PathLike, semantic: str | os.PathLike | None = None,
                        dtype: str = "float32", filename: str | None = None,
                        window_seconds: float = WINDOW_SECONDS) -> "XCodec2":
        """Load a checkpoint of this class's family: a release file (X-Codec2's `model.safetensors` or Lightning
        `.ckpt`, NeuCodec's `pytorch_model.bin`), transformers' X-Codec2 port (`model.safetensors` with its
        `config.json`, or their folder), a converted directory or safetensors export, or a hub id
        (`HKUSTAudio/xcodec2`, `HKUSTAudio/xcodec2-hf`, `neuphonic/neucodec`; `filename` picks another file).
        `semantic`: the semantic model's source when the checkpoint lacks it (see `load_codec`).
        CheckpointError naming the class that loads a checkpoint of another family."""
        config, params = pretrained.load(source, filename, semantic=semantic, family=cls.FAMILY)
        return cls(config, params["model"], dtype, window_seconds)

    @classmethod
    def random(cls, family: str = "xcodec2", size: str = "micro", seed: int = 0, dtype: str = "float32",
               window_seconds: float = WINDOW_SECONDS) -> "XCodec2":
        """A randomly initialised codec of a family at a named size (for smoke tests)."""
        config = config_lib.freeze(config_lib.model_config(family, size))
        wav, features = prepare(np.zeros(320, np.float32), family)
        params = jax.jit(XCodec2Model(config).init)(jax.random.PRNGKey(seed), wav[None], features[None])["params"]
        return cls(config, params, dtype, window_seconds)

    def encode_batch(self, wavs: Sequence[np.ndarray], sample_rate: int = audio.SAMPLE_RATE) -> list[np.ndarray]:
        """Clips `(samples_i,)` of any lengths -> their codes `(1, frames_i)` int32, each as if encoded alone."""
        prepared = [prepare(audio.as_batch(wav, sample_rate)[0], self.family) for wav in wavs]
        if max(code_frames(*p) for p in prepared) > self.window_frames:
            return self._encode_windowed(prepared)
        return self._encode_whole(prepared)

    def _encode_whole(self, prepared: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
        """Prepared clips in one padded batch, each clip whole."""
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
        check_code_array(codes, self.num_quantizers, self.codebook_size)
        return audio.decoded_length(length, codes.shape[2], self.output_hop)

    def decode_batch(self, codes: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Code sequences `(1, frames_i)` -> audio `(frames_i * output hop,)` each, as if decoded alone."""
        codes = [audio.as_array(c, "codes must be an integer array") for c in codes]
        for c in codes:
            self.check_codes(c[None] if c.ndim == 2 else c)
        if max(c.shape[-1] for c in codes) > self.window_frames:
            return self._decode_windowed([c.reshape(1, -1) for c in codes])
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
        if codes.shape[2] > self.window_frames:
            return np.stack(self._decode_windowed(list(codes.astype(np.int32))))[:, :length]
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
        from bigcodec_jax.xcodec2 import passes as family_passes
        window, _ = self.frames_for_window(window_seconds)
        encode, decode = family_passes.jitted(self.config, self.dtype)
        return family_passes.Passes(
            family_passes.EncodePass(encode, lambda clip: self.encode_batch([clip])[0], self.family, window),
            family_passes.DecodePass(decode, lambda codes: self.decode_batch([codes])[0], window, self.output_hop))

    # Long audio (`xcodec2/windows.py`): clips over the window run as window-sized chunks, in groups of at most
    # as many chunks as the call has clips, so the compiled shapes and memory stay those of a batch of windows.

    def frames_for_window(self, window_seconds: float) -> tuple[int, int]:
        """(window, context) in code frames for `window_seconds`; ValueError for a window that is not a positive
        number of seconds or is under one second (shorter chunks would keep less than 0.6 s each)."""
        audio.check_window_seconds(window_seconds)
        if window_seconds < 1:
            raise ValueError(f"a window of {window_seconds:g} s is too short: it must be at least 1 second")
        window = round(window_seconds * self.frame_rate)
        return window, round(window * CONTEXT_FRACTION)

    def _groups(self, rows: list[Any], size: int) -> list[list[Any]]:
        """`rows` in groups of `size`, the last one filled up by repeating its last row (one compiled shape)."""
        rows = rows + rows[-1:] * (-len(rows) % size)
        return [rows[i:i + size] for i in range(0, len(rows), size)]

    def _encode_windowed(self, prepared: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
        """Clips over the window in chunks (the others whole): chunk inputs are the clip's padded audio and its
        features computed over the whole clip (their normalisation is per clip), cut to the chunk's frames."""
        frames = [code_frames(*p) for p in prepared]
        short = [i for i, n in enumerate(frames) if n <= self.window_frames]
        out = dict(zip(short, self._encode_whole([prepared[i] for i in short]))) if short else {}
        jobs = [(i, c) for i, n in enumerate(frames) if i not in out
                for c in windows.plan(n, self.window_frames, self.context_frames)]
        width = (self.window_frames + 1) * HOP  # one frame more: NeuCodec's last feature frame needs it
        pieces = []
        for group in self._groups(jobs, len(prepared)):
            wavs = np.zeros((len(group), width), np.float32)
            features = np.zeros((len(group), self.window_frames, prepared[0][1].shape[-1]), np.float32)
            samples = np.zeros(len(group), np.int32)
            for row, (i, c) in enumerate(group):
                wav = prepared[i][0][c.start * HOP:(c.stop + 1) * HOP]
                wavs[row, :wav.shape[0]], samples[row] = wav, wav.shape[0]
                features[row] = prepared[i][1][c.start:c.stop]
            lengths = np.full(len(group), self.window_frames, np.int32)
            pieces.extend(np.asarray(self._encode(self.params, wavs, features, samples, lengths)))
        for i in sorted(set(i for i, _ in jobs)):
            mine = [(p, c) for p, (j, c) in zip(pieces, jobs) if j == i]
            out[i] = windows.kept([p for p, _ in mine], [c for _, c in mine])
        return [out[i] for i in range(len(prepared))]

    def _decode_windowed(self, codes: list[np.ndarray]) -> list[np.ndarray]:
        """Code sequences `(1, frames_i)` over the window decoded in chunks (the others whole) -> audio each."""
        short = [i for i, c in enumerate(codes) if c.shape[-1] <= self.window_frames]
        out = dict(zip(short, self.decode_batch([codes[i] for i in short]))) if short else {}
        jobs = [(i, c) for i, seq in enumerate(codes) if i not in out
                for c in windows.plan(seq.shape[-1], self.window_frames, self.context_frames)]
        pieces = []
        for group in self._groups(jobs, len(codes)):
            batch = np.stack([codes[i][:, c.start:c.stop] for i, c in group]).astype(np.int32)
            pieces.extend(np.asarray(self._decode(self.params, batch, None)))
        fade = round(FADE_SECONDS * self.output_sample_rate)
        for i in sorted(set(i for i, _ in jobs)):
            mine = [(p, c) for p, (j, c) in zip(pieces, jobs) if j == i]
            out[i] = windows.stitch([p for p, _ in mine], [c for _, c in mine], self.output_hop, fade)
        return [out[i] for i in range(len(codes))]


class NeuCodec(XCodec2):
    """NeuCodec: X-Codec2's network with a 24 kHz decoder (`XCodec2` with `config.family == "neucodec"`)."""

    FAMILY = "neucodec"

    @classmethod
    def random(cls, family: str = "neucodec", size: str = "micro", seed: int = 0, dtype: str = "float32",
               window_seconds: float = WINDOW_SECONDS) -> "XCodec2":
        return super().random(family, size, seed, dtype, window_seconds)


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
