"""Codes files (`.codes.npz`): the codes of any family's model plus what is needed to decode them faithfully.

Format version 2 is a NumPy `.npz` archive (uncompressed) holding:
- `format_version`: 2.
- the codes, either plain: `codes` `(n_q, frames)` int16 (int32 for codebooks over 32768
  entries); or packed (`inference.py encode --pack`): `packed_codes` uint8, every code as a
  `code_bits`-bit unsigned big-endian integer, row-major, concatenated, the last byte
  zero-padded, with `code_bits` (ceil(log2(codebook size)): 13 for the 8192-entry codebook) and
  `codes_shape` `(n_q, frames)`. Packed, the released codec's codes take 13 bits x 80 frames/s
  = 1040 bit/s, its true bitrate (plus about 2 KB of archive headers and metadata per file).
- `length`: samples of the decoded audio at the model's output rate (the decoded audio is trimmed to it): 16 kHz
  for BigCodec and X-Codec2, 24 kHz for NeuCodec.
- `sample_rate`: the rate of the original file.
- `config`: the model config as JSON (any family's, `model_configs.parse`); `fingerprint`: a SHA-256 prefix of
  the model's weights.
- X-Codec2 / NeuCodec files only (BigCodec's stay as they were): `family` ("xcodec2" or "neucodec"),
  `model_sample_rate` (the rate the model encodes at, 16000), `output_sample_rate` (its decoded audio's) and
  `frame_rate` (code frames a second), each checked against the config when read.
Decoding with a codec whose fingerprint differs (another family or other weights) is refused. Version 1 files
(plain codes only, otherwise the same fields) still read. Reading checks every field (present, of its type: integers
are never truncated from floats; in range: codes within the codebook, `code_bits` equal to the
codebook's, `length` within the frames) and raises a ValueError naming the field that is wrong.
"""
from __future__ import annotations

import hashlib
import math

import jax
import ml_collections
import numpy as np

from bigcodec_jax import model_configs
from bigcodec_jax.codec import config as config_lib
from bigcodec_jax.errors import ConfigError
from bigcodec_jax.io import paths
from bigcodec_jax.xcodec2 import config as family_config

FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)


def fingerprint(params) -> str:
    """A short hash of the parameter values, independent of the device they live on."""
    digest = hashlib.sha256()
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        digest.update(jax.tree_util.keystr(path).encode())
        digest.update(np.ascontiguousarray(np.asarray(leaf, np.float32)).tobytes())
    return digest.hexdigest()[:16]


def code_bits(codebook_size: int) -> int:
    """Bits of one code: ceil(log2(codebook_size))."""
    return max(1, math.ceil(math.log2(codebook_size)))


def pack(codes: np.ndarray, bits: int) -> np.ndarray:
    """Non-negative integer codes -> uint8 bytes holding `bits` bits per code (big-endian, row-major)."""
    values = np.asarray(codes, np.uint32).reshape(-1)
    planes = (values[:, None] >> np.arange(bits - 1, -1, -1, dtype=np.uint32)) & 1
    return np.packbits(planes.astype(np.uint8).reshape(-1))


def unpack(packed: np.ndarray, bits: int, shape: tuple[int, ...]) -> np.ndarray:
    """The inverse of `pack`: int32 codes of `shape`."""
    count = math.prod(shape)
    if packed.size * 8 < count * bits:
        raise ValueError(f"packed codes hold {packed.size} bytes, too few for {count} codes of {bits} bits")
    planes = np.unpackbits(packed, count=count * bits).reshape(count, bits).astype(np.int64)
    return (planes @ (1 << np.arange(bits - 1, -1, -1))).astype(np.int32).reshape(shape)


def family_fields(model: model_configs.Model) -> dict:
    """The fields a family's codes file adds (none for BigCodec's, whose files are unchanged)."""
    if model.family == model_configs.BIGCODEC:
        return {}
    return dict(family=model.family, model_sample_rate=family_config.SAMPLE_RATE,
                output_sample_rate=model.output_sample_rate, frame_rate=float(model.frame_rate))


def save(path: str, codes: np.ndarray, length: int, sample_rate: int, config: ml_collections.ConfigDict,
         model_fingerprint: str, packed: bool = False) -> None:
    """Write codes `(n_q, frames)` of `length` output samples, plain or packed, to the local file `path` (outputs:
    the staged file of `staged.staged_file`)."""
    model = model_configs.model_of(config)
    size = model.codebook_size
    if packed:
        bits = code_bits(size)
        arrays = dict(packed_codes=pack(codes, bits), code_bits=bits, codes_shape=np.array(codes.shape))
    else:
        arrays = dict(codes=codes.astype(np.int16 if size <= 32768 else np.int32))
    with open(path, "wb") as f:
        np.savez(f, format_version=FORMAT_VERSION, length=length, sample_rate=sample_rate,
                 config=config_lib.to_json(config), fingerprint=model_fingerprint, **arrays, **family_fields(model))


def _field(data, name: str) -> np.ndarray:
    if name not in data.files:
        raise ValueError(f"field {name!r} is missing")
    try:
        return data[name]
    except Exception as e:  # object arrays (refused without pickle), damaged members: numpy raises many types
        raise ValueError(f"field {name!r} cannot be read ({e})") from None


def _show(value: np.ndarray) -> str:
    return repr(value.item()) if value.size == 1 else f"an array of shape {value.shape} and dtype {value.dtype}"


def _integer(data, name: str) -> int:
    """A positive integer scalar field (a float such as 3.7 is refused, never truncated)."""
    value = _field(data, name)
    if value.shape != () or value.dtype.kind not in "iu":
        raise ValueError(f"field {name!r} must be an integer, got {_show(value)}")
    if int(value) < 1:
        raise ValueError(f"field {name!r} must be positive, got {int(value)}")
    return int(value)


def _text(data, name: str) -> str:
    value = _field(data, name)
    if value.shape != () or value.dtype.kind != "U":
        raise ValueError(f"field {name!r} must be a string, got {_show(value)}")
    return str(value)


def _open(path: str):
    """The archive (local, or fetched whole from a URL), once its version is known to be readable; ValueError
    otherwise."""
    try:
        data = np.load(paths.readable(path), allow_pickle=False)
    except Exception as e:  # a damaged or foreign file: numpy and zipfile raise many types
        raise ValueError(f"not a codes file ({e})") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ValueError("not a codes file (a single NumPy array, not an .npz archive)")
    try:
        version = _integer(data, "format_version")
        if version not in READABLE_VERSIONS:
            raise ValueError(f"codes file format {version} is not supported (this version reads "
                             f"{', '.join(map(str, READABLE_VERSIONS))})")
    except ValueError:
        data.close()
        raise
    return data


def _model(data) -> model_configs.Model:
    """The model of the config stored in the file, its family's fields checked against it."""
    try:
        model = model_configs.model_of(model_configs.parse(_text(data, "config")))
    except ConfigError as e:
        raise ValueError(f"field 'config' is not a BigCodec, X-Codec2 or NeuCodec model config ({e})") from None
    for name, value in family_fields(model).items():
        stored = _field(data, name)
        if stored.shape != () or stored.item() != value:
            raise ValueError(f"field {name!r} is {_show(stored)}, but its config says {value!r}")
    return model


def _describe(model: model_configs.Model) -> str:
    """A model in a message: BigCodec's as it always was, a family's with its name and output rate."""
    codes = f"{model.num_quantizers} quantizers of {model.codebook_size}"
    if model.family == model_configs.BIGCODEC:
        return codes
    return f"{model.family}, {model.num_quantizers} quantizer of {model.codebook_size}, {model.output_sample_rate} Hz"


def _packed_codes(data, codebook_size: int) -> np.ndarray:
    bits = _integer(data, "code_bits")
    if bits != code_bits(codebook_size):
        raise ValueError(f"field 'code_bits' is {bits}, but codes of a {codebook_size}-entry codebook take "
                         f"{code_bits(codebook_size)} bits")
    shape = _field(data, "codes_shape")
    if shape.shape != (2,) or shape.dtype.kind not in "iu" or shape.min() < 1:
        raise ValueError(f"field 'codes_shape' must be two positive integers (quantizers, frames), got {_show(shape)}")
    packed = _field(data, "packed_codes")
    count = math.prod(int(n) for n in shape)
    if packed.dtype != np.uint8 or packed.shape != (-(-count * bits // 8),):
        raise ValueError(f"field 'packed_codes' must hold {-(-count * bits // 8)} bytes for {count} codes of "
                         f"{bits} bits, got {_show(packed)}")
    return unpack(packed, bits, tuple(int(n) for n in shape))


def load(path: str, expected_fingerprint: str) -> tuple[np.ndarray, int]:
    """(codes (n_q, frames) int32, length), every field checked; ValueError naming the field that is missing or
    wrong, for unreadable versions and for files of other models."""
    with _open(path) as data:
        model_fingerprint = _text(data, "fingerprint")
        model = _model(data)
        n_q, size, hop = model.num_quantizers, model.codebook_size, model.output_hop
        if model_fingerprint != expected_fingerprint:
            raise ValueError(f"made by another model (weights {model_fingerprint}, this codec {expected_fingerprint}; "
                             f"its model: {_describe(model)})")
        length = _integer(data, "length")
        _integer(data, "sample_rate")
        if ("packed_codes" in data.files) == ("codes" in data.files):
            raise ValueError("a codes file holds exactly one of the fields 'codes' and 'packed_codes'")
        if "packed_codes" in data.files:
            codes = _packed_codes(data, size)
        else:
            codes = _field(data, "codes")
            if codes.dtype.kind not in "iu" or codes.ndim != 2:
                raise ValueError(f"field 'codes' must be a 2-D integer array, got {_show(codes)}")
    if codes.shape[0] != n_q or codes.shape[1] == 0:
        raise ValueError(f"field 'codes' has shape {codes.shape}, the model's codes are ({n_q}, frames > 0)")
    if codes.min() < 0 or codes.max() >= size:
        raise ValueError(f"field 'codes' holds values from {codes.min()} to {codes.max()}, outside [0, {size})")
    if length > codes.shape[1] * hop:
        raise ValueError(f"field 'length' is {length} samples, more than the {codes.shape[1] * hop} "
                         f"of {codes.shape[1]} frames")
    return codes.astype(np.int32), length
