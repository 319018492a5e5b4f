"""Codes shards: a tokenised corpus as ArrayRecord files plus `index.json`, what a speech-LM trainer reads.

`inference.py encode ... --format arrayrecord` writes into OUTPUT:
- `codes-00000-of-00042.array_record` ...: the shards, about `--shard-seconds` of audio each, the
  files sorted by duration (shortest first) across the whole corpus. Each record is a msgpack map
  (readable from any language) with
    `id`           the input's path relative to the folder or file list it was found in (str)
    `codes`        the codes, `n_q` x `frames` unsigned 16-bit little-endian integers, row-major (bytes)
    `n_q`, `frames`  their shape (int)
    `length`       samples of the audio at 16 kHz (the decoded audio is trimmed to it)
    `sample_rate`  the rate of the original file
- `index.json` (written last, once every shard exists): `format`, `format_version`, the model
  `config`, the weights' `fingerprint` (as in codes files), `shards` (file, records, frames,
  seconds of audio each), the totals `records`, `frames` and `seconds`, and `failed`: the inputs
  that could not be encoded, with the reason.
`bigcodec_jax.data.CodesSource(OUTPUT)` reads them as a Grain random-access source, and `inference.py decode
OUTPUT` back to audio; OUTPUT may be gs://..., read from local copies of its shards in a cache folder
(`paths.cached_copies`).
"""
from __future__ import annotations

import json
from typing import Any

import msgpack
import numpy as np

from bigcodec_jax import paths

INDEX_FILE = "index.json"
FORMAT = "bigcodec-jax codes shards"
FORMAT_VERSION = 1
MAX_CODEBOOK_SIZE = 2 ** 16  # codes are stored as uint16


def shard_name(index: int, count: int) -> str:
    return f"codes-{index:05d}-of-{count:05d}.array_record"


def encode_record(record_id: str, codes: np.ndarray, length: int, sample_rate: int) -> bytes:
    """One record's bytes; `codes` `(n_q, frames)` non-negative integers below 2**16."""
    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.min(initial=0) < 0 or codes.max(initial=0) >= MAX_CODEBOOK_SIZE:
        raise ValueError(f"codes must be (n_q, frames) integers in [0, {MAX_CODEBOOK_SIZE}), got {codes.shape}")
    return msgpack.packb({"id": record_id, "codes": codes.astype("<u2").tobytes(), "n_q": codes.shape[0],
                          "frames": codes.shape[1], "length": int(length), "sample_rate": int(sample_rate)})


def decode_record(data: bytes) -> dict[str, Any]:
    """{"id": str, "codes": int32 (n_q, frames), "length": int, "sample_rate": int}."""
    record = msgpack.unpackb(data)
    codes = np.frombuffer(record["codes"], "<u2").reshape(record["n_q"], record["frames"]).astype(np.int32)
    return {"id": record["id"], "codes": codes, "length": record["length"], "sample_rate": record["sample_rate"]}


def read_index(directory: str, expected_fingerprint: str | None = None) -> dict[str, Any]:
    """`index.json` of a shard directory; ValueError when it is missing (an unfinished or foreign
    directory), of an unknown format, or (given `expected_fingerprint`) made by another model."""
    path = paths.join(directory, INDEX_FILE)
    try:
        index = json.loads(paths.read_text(path))
    except FileNotFoundError:
        raise ValueError(f"{directory}: no {INDEX_FILE}: not a codes shard directory, or its encoding has not "
                         "finished (rerun the encode command to finish it)") from None
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: unreadable ({e})") from None
    if index.get("format") != FORMAT or index.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path}: format {index.get('format')!r} version {index.get('format_version')!r} is not "
                         f"{FORMAT!r} version {FORMAT_VERSION}")
    if expected_fingerprint is not None and index["fingerprint"] != expected_fingerprint:
        decoder = index["config"]["decoder"]
        raise ValueError(f"{directory}: made by another model (weights {index['fingerprint']}, expected "
                         f"{expected_fingerprint}; its model: {decoder['vq_num_quantizers']} quantizers of "
                         f"{decoder['codebook_size']})")
    return index


def is_shard_directory(path: str) -> bool:
    return paths.isdir(path) and paths.isfile(paths.join(path, INDEX_FILE))
