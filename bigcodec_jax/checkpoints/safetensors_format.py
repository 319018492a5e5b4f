"""Checkpoints as `.safetensors` files, with the official tensor names (BigCodec's; the family's flat).

The file holds the released checkpoint's state dicts flat, each tensor named `<section>.<key>` as in
the official model: `CodecEnc.…` (the encoder), `generator.…` (quantiser and decoder) and, when
present, `discriminator.…` (multi-period) and `spec_discriminator.…` (multi-resolution spectrogram).
So `safetensors.torch.load_file` gives, section by section, exactly the state dicts that
`torch.load("bigcodec.pt")` gives. Tensors are float32 in PyTorch's layout; files this package writes
carry the model config in the header's metadata, for others it is inferred from the shapes, as for `.pt`.
X-Codec2 / NeuCodec exports are the released flat state dict (`save_tensors`, names as in
`xcodec2_layout`) with their config in the metadata the same way. A safetensors file holds no code, only
a JSON header and raw tensors, and is read without pickle.
"""
from __future__ import annotations

import json
import os
import struct

import ml_collections
import numpy as np

from bigcodec_jax.checkpoints.layout import DISCRIMINATOR_SECTIONS, GENERATOR_SECTIONS
from bigcodec_jax.checkpoints.official import CONFIG_KEY, embedded_config
from bigcodec_jax.checkpoints.torch_zip import CheckpointError
from bigcodec_jax.io import staged

SUFFIX = ".safetensors"
METADATA = {"format": "pt"}  # the tensors are PyTorch state dicts (the convention of safetensors' torch API)
_SECTIONS = GENERATOR_SECTIONS + DISCRIMINATOR_SECTIONS
_MAX_HEADER = 100 * 2 ** 20  # safetensors' own limit on the JSON header
_ZIP_MAGIC = b"PK\x03\x04"  # a zip's first local file header


def is_safetensors(path: str | os.PathLike) -> bool:
    """Whether `path` is meant as a safetensors file, so that `read` says what is wrong with a damaged one: a
    file whose JSON header opens after the 8-byte length (a PyTorch zip has its compression method there), or
    one named `.safetensors` that does not start as a zip does."""
    try:
        with open(path, "rb") as f:
            head = f.read(9)
    except OSError:
        return False
    named = os.fspath(path).lower().endswith(SUFFIX)
    return head[8:9] == b"{" or (named and not head.startswith(_ZIP_MAGIC))


def read_sections(path: str | os.PathLike) -> dict[str, dict[str, np.ndarray]]:
    """The state dicts of a BigCodec safetensors file, keyed by official section name."""
    return read(path)[0]


def read(path: str | os.PathLike) -> tuple[dict[str, dict[str, np.ndarray]], ml_collections.ConfigDict | None]:
    """(state dicts keyed by official section name, the model config our export embedded or None)."""
    return sections_of(*read_flat(path), path)


def sections_of(tensors: dict[str, np.ndarray], metadata: dict[str, str], path: str | os.PathLike
                ) -> tuple[dict[str, dict[str, np.ndarray]], ml_collections.ConfigDict | None]:
    """`read` of a file already read by `read_flat`."""
    sections: dict[str, dict[str, np.ndarray]] = {}
    foreign = []
    for name in sorted(tensors):
        section, _, key = name.partition(".")
        if section in _SECTIONS and key:
            sections.setdefault(section, {})[key] = tensors[name]
        else:
            foreign.append(name)
    missing = [s for s in GENERATOR_SECTIONS if s not in sections]
    if missing or foreign:
        problem = f"no {' or '.join(missing)} tensors" if missing else f"tensors outside {', '.join(_SECTIONS)}"
        raise CheckpointError(f"{path} is not a BigCodec safetensors file: {problem} (names are "
                              f"'<section>.<key>' with the official sections; found e.g. "
                              f"{', '.join((foreign or sorted(tensors))[:3]) or 'no tensors'})")
    return sections, config_of(metadata, path)


def config_of(metadata: dict[str, str], path: str | os.PathLike) -> ml_collections.ConfigDict | None:
    """The model config (any family) that our exports embed in the header's metadata, validated, or None."""
    embedded = metadata.get(CONFIG_KEY)
    return None if embedded is None else embedded_config(embedded, f"{path} (metadata {CONFIG_KEY})")


def read_tensors(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every tensor of any safetensors file (e.g. a transformers `model.safetensors`), by name, as numpy."""
    return read_flat(path)[0]


def read_flat(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """(tensors by name, header metadata); CheckpointError for a file that is not readable safetensors."""
    from safetensors import SafetensorError, safe_open

    _check_header(path)
    try:
        with safe_open(os.fspath(path), framework="np") as f:
            return {name: f.get_tensor(name) for name in f.keys()}, f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path} is not a readable safetensors file: {e}") from None


def _check_header(path: str | os.PathLike) -> None:
    """CheckpointError saying what is wrong with the header (its length field, then its JSON), which
    safetensors itself reports only as e.g. `HeaderTooLarge`."""
    damaged = f"{path} is not a readable safetensors file"
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size < 8:
            raise CheckpointError(f"{damaged}: it has {size} bytes, fewer than the 8 of the header length")
        (length,) = struct.unpack("<Q", f.read(8))
        if length > _MAX_HEADER:
            raise CheckpointError(f"{damaged}: its header length says {length:,} bytes, more than the "
                                  f"{_MAX_HEADER:,} safetensors allows (a damaged file)")
        if length > size - 8:
            raise CheckpointError(f"{damaged}: its header length says {length:,} bytes but the file holds "
                                  f"{size - 8:,} after it (truncated or damaged)")
        header = f.read(length)
    try:
        parsed = json.loads(header)
    except (ValueError, RecursionError) as e:  # JSONDecodeError, bytes that are not UTF-8, absurd nesting
        raise CheckpointError(f"{damaged}: its {length:,}-byte header is not JSON ({type(e).__name__}: "
                              f"{str(e)[:200]})") from None
    if not isinstance(parsed, dict):
        shown = header[:40].decode(errors="replace")
        raise CheckpointError(f"{damaged}: its header is JSON but not an object ({shown!r})")


def save(sections: dict[str, dict[str, np.ndarray]], path: str | os.PathLike, config_json: str | None = None
         ) -> None:
    """Write state dicts (official sections, e.g. `official.flax_to_torch`'s) as one safetensors file, local or
    remote, atomically (a partial file never appears at `path`); `config_json`, the model config, goes into the
    header's metadata."""
    save_tensors({f"{section}.{key}": value for section, sd in sections.items() for key, value in sd.items()},
                 path, config_json)


def save_tensors(tensors: dict[str, np.ndarray], path: str | os.PathLike, config_json: str | None = None) -> None:
    """`save` of a flat state dict (tensors by full name, e.g. an X-Codec2 / NeuCodec state dict)."""
    from safetensors.numpy import save as serialise

    tensors = {name: np.ascontiguousarray(value) for name, value in tensors.items()}
    metadata = {**METADATA, **({CONFIG_KEY: config_json} if config_json else {})}
    # written by Python: safetensors' own save_file makes owner-only (0600) files
    staged.write_bytes(path, _sorted_header(serialise(tensors, metadata=metadata)))


def _sorted_header(data: bytes) -> bytes:
    """The same file with its JSON header's keys sorted: safetensors writes metadata in hash-map order, which
    differs between processes, and the same checkpoint should give the same bytes. Data offsets are relative
    to the end of the header, so they stay valid; the header is space-padded to 8 bytes as safetensors does."""
    (size,) = struct.unpack("<Q", data[:8])
    header = json.dumps(json.loads(data[8:8 + size]), sort_keys=True, separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header + data[8 + size:]

