"""Codes files (`.codes.npz`): BigCodec codes plus what is needed to decode them faithfully.

Format version 2 is a NumPy `.npz` archive (uncompressed) holding:
- `format_version`: 2.
- the codes, either plain: `codes` `(n_q, frames)` int16 (int32 for codebooks over 32768
  entries); or packed (`inference.py encode --pack`): `packed_codes` uint8, every code as a
  `code_bits`-bit unsigned big-endian integer, row-major, concatenated, the last byte
  zero-padded, with `code_bits` (ceil(log2(codebook size)): 13 for the 8192-entry codebook) and
  `codes_shape` `(n_q, frames)`. Packed, the released codec's codes take 13 bits x 80 frames/s
  = 1040 bit/s, its true bitrate (plus about 2 KB of archive headers and metadata per file).
- `length`: samples of the audio at 16 kHz (the decoded audio is trimmed to it).
- `sample_rate`: the rate of the original file.
- `config`: the model config as JSON; `fingerprint`: a SHA-256 prefix of the generator weights.
Decoding with a codec whose fingerprint differs is refused. Version 1 files (plain codes only,
otherwise the same fields) still read.
"""
from __future__ import annotations

import hashlib
import json
import math

import jax
import ml_collections
import numpy as np

from bigcodec_jax import config as config_lib, paths

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


def save(path: str, codes: np.ndarray, length: int, sample_rate: int, config: ml_collections.ConfigDict,
         model_fingerprint: str, packed: bool = False) -> None:
    """Write codes `(n_q, frames)` of `length` 16 kHz samples, plain or packed, to the local file `path` (outputs:
    the staged file of `files.write_atomic`)."""
    size = config.decoder.codebook_size
    if packed:
        bits = code_bits(size)
        arrays = dict(packed_codes=pack(codes, bits), code_bits=bits, codes_shape=np.array(codes.shape))
    else:
        arrays = dict(codes=codes.astype(np.int16 if size <= 32768 else np.int32))
    with open(path, "wb") as f:
        np.savez(f, format_version=FORMAT_VERSION, length=length, sample_rate=sample_rate,
                 config=config_lib.to_json(config), fingerprint=model_fingerprint, **arrays)


def _open(path: str):
    """The archive (local, or fetched whole from a URL), once its version is known to be readable; ValueError
    otherwise."""
    try:
        data = np.load(paths.readable(path), allow_pickle=False)
        version = int(data["format_version"])
    except Exception as e:  # a damaged or foreign file: numpy and zipfile raise many types
        raise ValueError(f"not a codes file ({e})") from None
    if version not in READABLE_VERSIONS:
        raise ValueError(f"codes file format {version} is not supported (this version reads "
                         f"{', '.join(map(str, READABLE_VERSIONS))})")
    return data


def read_length(path: str) -> int:
    """The 16 kHz length recorded in a codes file, without reading its codes."""
    return int(_open(path)["length"])


def load(path: str, expected_fingerprint: str) -> tuple[np.ndarray, int]:
    """(codes (n_q, frames) int32, length); ValueError for unreadable versions or other models."""
    data = _open(path)
    if str(data["fingerprint"]) != expected_fingerprint:
        config = json.loads(str(data["config"]))
        raise ValueError(f"made by another model (weights {data['fingerprint']}, this codec {expected_fingerprint}; "
                         f"its model: {config['decoder']['vq_num_quantizers']} quantizers of "
                         f"{config['decoder']['codebook_size']})")
    if "packed_codes" in data:
        codes = unpack(data["packed_codes"], int(data["code_bits"]), tuple(int(n) for n in data["codes_shape"]))
    else:
        codes = data["codes"].astype(np.int32)
    return codes, int(data["length"])
