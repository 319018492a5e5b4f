"""Codes shards: a tokenised corpus as ArrayRecord files plus `index.json`, what a speech-LM trainer reads.

`inference.py encode ... --format arrayrecord` writes into OUTPUT:
- `codes-00000-of-00042.array_record` ...: the shards, about `--shard-seconds` of audio each, the
  files sorted by duration (shortest first) across the whole corpus. Each record is a msgpack map
  (readable from any language) with
    `id`           the input's path relative to the folder or file list it was found in (str)
    `codes`        the codes, `n_q` x `frames` unsigned 16-bit little-endian integers, row-major (bytes)
    `n_q`, `frames`  their shape (int)
    `length`       samples of the decoded audio at the model's output rate (`output_sample_rate`: 24 kHz for
                   NeuCodec, 16 kHz for the others), to which the decoded audio is trimmed
    `sample_rate`  the rate of the original file
- `index.json` (written last, once every shard exists): `format`, `format_version`, the model
  `config` (of any family: `model_configs.parse` reads it), the weights' `fingerprint` (as in codes
  files), what a reader needs to know of the codes without the model (`model_fields`: `family`
  ("bigcodec", "xcodec2" or "neucodec"), `sample_rate` of the audio encoded (16 kHz),
  `output_sample_rate` of the decoded audio (24 kHz for NeuCodec), `frame_rate`, `hop_length`,
  `num_quantizers`, `codebook_size`), `shards` (file, records, frames, seconds of audio each), the
  totals `records`, `frames` and `seconds`, and `failed`: the inputs that could not be encoded, with
  the reason. An index written before the family existed lacks the model fields: `read_index` fills
  them in from its config.
`bigcodec_jax.data.CodesSource(OUTPUT)` reads them as a Grain random-access source, and `inference.py decode
OUTPUT` back to audio; OUTPUT may be gs://..., read from local copies of its shards in a cache folder
(`download_cache.cached_copies`).

Reading checks what it reads: an `index.json` that is missing, malformed or made by another model, a shard
that is truncated, damaged or holds another number of records than the index says, and a record that
cannot be decoded are each an `InputError` (a ValueError) in one line naming the file.
"""
from __future__ import annotations

import json
from typing import Any

import ml_collections
import msgpack
import numpy as np
from array_record.python.array_record_module import ArrayRecordReader

from bigcodec_jax import audio, model_configs
from bigcodec_jax.errors import InputError
from bigcodec_jax.io import paths

INDEX_FILE = "index.json"
FORMAT = "bigcodec-jax codes shards"
FORMAT_VERSION = 1
MAX_CODEBOOK_SIZE = 2 ** 16  # codes are stored as uint16: X-Codec2's and NeuCodec's 65536 codes fit
MODEL_FIELDS = ("family", "sample_rate", "output_sample_rate", "frame_rate", "hop_length", "num_quantizers",
                "codebook_size")


def model_fields(config: ml_collections.ConfigDict | ml_collections.FrozenConfigDict) -> dict[str, Any]:
    """The index's description of the model of any family (`MODEL_FIELDS`) and its `config`; ValueError when
    its codes do not fit the shards' 16-bit storage."""
    model = model_configs.model_of(config)
    if model.codebook_size > MAX_CODEBOOK_SIZE:
        raise ValueError(f"codes shards store codes as 16-bit integers; this codebook has {model.codebook_size} "
                         "entries")
    return {"family": model.family, "sample_rate": audio.SAMPLE_RATE, "output_sample_rate": model.output_sample_rate,
            "frame_rate": model.frame_rate, "hop_length": model.hop_length, "num_quantizers": model.num_quantizers,
            "codebook_size": model.codebook_size, "config": config.to_dict()}


def shard_name(index: int, count: int) -> str:
    return f"codes-{index:05d}-of-{count:05d}.array_record"


def encode_record(record_id: str, codes: np.ndarray, length: int, sample_rate: int) -> bytes:
    """One record's bytes; `codes` `(n_q, frames)` non-negative integers below 2**16."""
    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.min(initial=0) < 0 or codes.max(initial=0) >= MAX_CODEBOOK_SIZE:
        raise ValueError(f"codes must be (n_q, frames) integers in [0, {MAX_CODEBOOK_SIZE}), got {codes.shape}")
    return msgpack.packb({"id": record_id, "codes": codes.astype("<u2").tobytes(), "n_q": codes.shape[0],
                          "frames": codes.shape[1], "length": int(length), "sample_rate": int(sample_rate)})


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def decode_record(data: bytes) -> dict[str, Any]:
    """{"id": str, "codes": int32 (n_q, frames), "length": int, "sample_rate": int}; ValueError when `data` is
    not a record of this format."""
    try:
        record = msgpack.unpackb(data)
    except Exception as e:  # damaged bytes: msgpack raises several types
        raise ValueError(f"not a codes record ({_one_line(e)})") from None
    fields = {"id": str, "codes": bytes, "n_q": int, "frames": int, "length": int, "sample_rate": int}
    if not isinstance(record, dict) or any(
            not isinstance(record.get(k), t) or isinstance(record.get(k), bool) for k, t in fields.items()):
        raise ValueError(f"not a codes record (fields {', '.join(f'{k} ({t.__name__})' for k, t in fields.items())} "
                         "expected)")
    n_q, frames = record["n_q"], record["frames"]
    if n_q < 1 or frames < 0 or len(record["codes"]) != 2 * n_q * frames:
        raise ValueError(f"not a codes record ({len(record['codes'])} bytes of codes for n_q={n_q}, frames={frames})")
    codes = np.frombuffer(record["codes"], "<u2").reshape(n_q, frames).astype(np.int32)
    return {"id": record["id"], "codes": codes, "length": record["length"], "sample_rate": record["sample_rate"]}


def count_records(path: str) -> int:
    """The records of the local shard file `path`; ValueError (one line) when it is truncated or damaged."""
    try:
        reader = ArrayRecordReader(path)
        count = reader.num_records()
        reader.close()  # a damaged file is reported here
    except Exception as e:  # array_record raises RuntimeError for damaged files; be safe with other types
        raise ValueError(f"not a readable shard ({_one_line(e)})") from None
    return count


def _check_index(index: Any, path: str) -> None:
    """InputError naming the first field of `index.json` that is missing or of the wrong type."""
    if not isinstance(index, dict):
        raise InputError(f"{path}: not a codes shard index (a JSON object expected, got {type(index).__name__})")
    if index.get("format") != FORMAT or index.get("format_version") != FORMAT_VERSION:
        raise InputError(f"{path}: format {index.get('format')!r} version {index.get('format_version')!r} is not "
                         f"{FORMAT!r} version {FORMAT_VERSION}")
    checks = {"fingerprint": lambda v: isinstance(v, str), "config": lambda v: isinstance(v, dict),
              "records": lambda v: _is_int(v) and v >= 0,
              "seconds": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
              "shards": lambda v: isinstance(v, list) and all(
                  isinstance(s, dict) and isinstance(s.get("file"), str) and s["file"]
                  and "/" not in s["file"] and s["file"] not in (".", "..")
                  and _is_int(s.get("records")) and s["records"] >= 0 for s in v)}
    for key, check in checks.items():
        if key not in index or not check(index[key]):
            raise InputError(f"{path}: field {key!r} is missing or malformed")
    if sum(s["records"] for s in index["shards"]) != index["records"]:
        raise InputError(f"{path}: its shards hold {sum(s['records'] for s in index['shards'])} records, its "
                         f"field 'records' says {index['records']}")


def _model(index: dict[str, Any]) -> str:
    """The model of an index (for messages)."""
    return f"{index['family']}, {index['num_quantizers']} quantizers of {index['codebook_size']}"


def _with_model_fields(index: dict[str, Any], path: str) -> dict[str, Any]:
    """`index` with its config parsed by its family's rules and the model fields it lacks filled in from it (an
    index written before the family existed); InputError for a config no family reads."""
    try:
        fields = model_fields(model_configs.parse(index["config"]))
    except ValueError as e:  # ConfigError, or a codebook too large for the shards
        raise InputError(f"{path}: field 'config' is not a model config ({_one_line(e)})") from None
    return {**fields, **index}


def read_index(directory: str, expected_fingerprint: str | None = None) -> dict[str, Any]:
    """`index.json` of a shard directory, its fields checked; InputError (a ValueError) when it is missing (an
    unfinished or foreign directory), malformed, of an unknown format, or (given `expected_fingerprint`) made
    by another model."""
    path = paths.join(directory, INDEX_FILE)
    try:
        index = json.loads(paths.read_text(path))
    except FileNotFoundError:
        raise InputError(f"{directory}: no {INDEX_FILE}: not a codes shard directory, or its encoding has not "
                         "finished (rerun the encode command to finish it)") from None
    except (OSError, ValueError) as e:  # unreadable, not UTF-8 (UnicodeDecodeError) or not JSON
        raise InputError(f"{path}: unreadable ({_one_line(e)})") from None
    _check_index(index, path)
    index = _with_model_fields(index, path)
    if expected_fingerprint is not None and index["fingerprint"] != expected_fingerprint:
        raise InputError(f"{directory}: made by another model (weights {index['fingerprint']}, expected "
                         f"{expected_fingerprint}; its model: {_model(index)})")
    return index


def is_shard_directory(path: str) -> bool:
    return paths.isdir(path) and paths.isfile(paths.join(path, INDEX_FILE))
