"""The codes file (`.npz`, format version 1): codes plus what is needed to decode them faithfully.

Fields: `format_version` (1), `codes` (n_q, frames) int16/int32, `length` (samples at 16 kHz),
`sample_rate` (of the original file), `config` (model config JSON) and `fingerprint` (SHA-256
prefix of the generator weights). Decoding with a codec whose fingerprint differs is refused.
"""
from __future__ import annotations

import hashlib
import json

import jax
import numpy as np

from bigcodec_jax import config as config_lib

FORMAT_VERSION = 1


def fingerprint(params) -> str:
    """A short hash of the parameter values, independent of the device they live on."""
    digest = hashlib.sha256()
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        digest.update(jax.tree_util.keystr(path).encode())
        digest.update(np.ascontiguousarray(np.asarray(leaf, np.float32)).tobytes())
    return digest.hexdigest()[:16]


def save(path: str, codes: np.ndarray, length: int, sample_rate: int, config, model_fingerprint: str) -> None:
    small = codes.astype(np.int16) if config.decoder.codebook_size <= 32768 else codes.astype(np.int32)
    with open(path, "wb") as f:
        np.savez(f, format_version=FORMAT_VERSION, codes=small, length=length, sample_rate=sample_rate,
                 config=config_lib.to_json(config), fingerprint=model_fingerprint)


def load(path: str, expected_fingerprint: str) -> tuple[np.ndarray, int]:
    """(codes (n_q, frames) int32, length); ValueError for other versions or other models."""
    try:
        data = np.load(path, allow_pickle=False)
        version = int(data["format_version"])
    except Exception as e:
        raise ValueError(f"not a codes file ({e})") from None
    if version != FORMAT_VERSION:
        raise ValueError(f"codes file format {version} is not supported (this version reads {FORMAT_VERSION})")
    if str(data["fingerprint"]) != expected_fingerprint:
        config = json.loads(str(data["config"]))
        raise ValueError(f"made by another model (weights {data['fingerprint']}, this codec {expected_fingerprint}; "
                         f"its model: {config['decoder']['vq_num_quantizers']} quantizers of "
                         f"{config['decoder']['codebook_size']})")
    return data["codes"].astype(np.int32), int(data["length"])
