"""Weight tables of the X-Codec2 / NeuCodec quantiser, Vocos decoder, semantic adapter and linears.

Each function yields `layout.Entry`s (official tensor name, Flax path, layout kind) for one official module,
given the module's state-dict prefix (`generator.quantizer`, `generator`, `SemanticEncoder_module`,
`fc_prior`, ...) and the Flax path where its parameters live. `params_from_state` turns a state dict into
the Flax tree with those tables. The tensors the official modules keep as non-persistent buffers
(the FSQ's levels, the rotary cache) are not in checkpoints; the ISTFT window is, as a `BUFFER` entry
that is checked (a periodic Hann window) and not converted.
"""
from __future__ import annotations

from typing import Any, Iterable, Iterator, Mapping

import numpy as np

from bigcodec_jax.checkpoints.layout import BUFFER, CONV1D, MATRIX, PLAIN, Entry
from bigcodec_jax.checkpoints.torch_zip import CheckpointError
from bigcodec_jax.nn.spectral import hann_window

Path = tuple[str, ...]
RESNET_BLOCKS = 2  # official VocosBackbone: two ResnetBlocks before and two after the transformer


def linear_entries(prefix: str, path: Path) -> Iterator[Entry]:
    """`nn.Linear` -> `nn.Dense` (`kernel`, `bias`)."""
    yield Entry(f"{prefix}.weight", path + ("kernel",), MATRIX)
    yield Entry(f"{prefix}.bias", path + ("bias",), PLAIN)


def _conv(prefix: str, path: Path, bias: bool = True) -> Iterator[Entry]:
    yield Entry(f"{prefix}.weight", path + ("kernel",), CONV1D)
    if bias:
        yield Entry(f"{prefix}.bias", path + ("bias",), PLAIN)


def _norm(prefix: str, path: Path) -> Iterator[Entry]:
    yield Entry(f"{prefix}.weight", path + ("scale",), PLAIN)
    yield Entry(f"{prefix}.bias", path + ("bias",), PLAIN)


def fsq_entries(prefix: str, path: Path) -> Iterator[Entry]:
    """Official `ResidualFSQ` (`<prefix>.project_in`, `.project_out`) -> `nn.fsq.ResidualFSQ`."""
    yield from linear_entries(f"{prefix}.project_in", path + ("project_in",))
    yield from linear_entries(f"{prefix}.project_out", path + ("project_out",))


def _resnet(prefix: str, path: Path) -> Iterator[Entry]:
    for k in (1, 2):
        yield from _norm(f"{prefix}.norm{k}", path + (f"norm{k}",))
        yield from _conv(f"{prefix}.conv{k}", path + (f"conv{k}",))


def _transformer(prefix: str, path: Path) -> Iterator[Entry]:
    yield Entry(f"{prefix}.att_norm.weight", path + ("att_norm", "weight"), PLAIN)
    yield Entry(f"{prefix}.ffn_norm.weight", path + ("ffn_norm", "weight"), PLAIN)
    yield Entry(f"{prefix}.att.c_attn.weight", path + ("att", "c_attn", "kernel"), MATRIX)
    yield Entry(f"{prefix}.att.c_proj.weight", path + ("att", "c_proj", "kernel"), MATRIX)
    yield Entry(f"{prefix}.mlp.fc1.weight", path + ("mlp", "fc1", "kernel"), MATRIX)
    yield Entry(f"{prefix}.mlp.fc2.weight", path + ("mlp", "fc2", "kernel"), MATRIX)


def vocos_decoder_entries(prefix: str, path: Path, depth: int) -> Iterator[Entry]:
    """Official `CodecDecoderVocos` minus its quantiser (`<prefix>.backbone.*`, `<prefix>.head.*`) ->
    `xcodec2.decoder.VocosDecoder`."""
    backbone = f"{prefix}.backbone"
    yield from _conv(f"{backbone}.embed", path + ("embed",))
    for i in range(RESNET_BLOCKS):
        yield from _resnet(f"{backbone}.prior_net.{i}", path + (f"prior_net_{i}",))
    for i in range(depth):
        yield from _transformer(f"{backbone}.transformers.{i}", path + (f"transformers_{i}",))
    yield from _norm(f"{backbone}.final_layer_norm", path + ("final_layer_norm",))
    for i in range(RESNET_BLOCKS):
        yield from _resnet(f"{backbone}.post_net.{i}", path + (f"post_net_{i}",))
    yield from linear_entries(f"{prefix}.head.out", path + ("head", "out"))
    yield Entry(f"{prefix}.head.istft.window", path + ("head", "window"), BUFFER)


def semantic_adapter_entries(prefix: str, path: Path) -> Iterator[Entry]:
    """Official `SemanticEncoder` -> `xcodec2.adapter.SemanticAdapter`."""
    yield from _conv(f"{prefix}.initial_conv", path + ("initial_conv",), bias=False)
    yield from _conv(f"{prefix}.residual_blocks.1", path + ("residual_conv_1",))
    yield from _conv(f"{prefix}.residual_blocks.3", path + ("residual_conv_2",))
    yield from _conv(f"{prefix}.final_conv", path + ("final_conv",), bias=False)


def _check_window(name: str, value: np.ndarray) -> None:
    if value.ndim != 1 or not np.allclose(value, hann_window(value.size, value.size), rtol=0, atol=1e-6):
        raise CheckpointError(f"{name} is not a periodic Hann window")


def params_from_state(state: Mapping[str, np.ndarray], entries: Iterable[Entry],
                      like: Mapping[str, Any] | None = None) -> dict:
    """The nested Flax parameter dict of `entries` read from a state dict (numpy arrays by official name).

    A missing tensor, one with a layout that does not fit its kind, a `BUFFER` that is not what it should be,
    or (given `like`, a tree of arrays or shape structs at the same paths) a shape mismatch raises
    `CheckpointError` naming the tensor.
    """
    tree: dict = {}
    for entry in entries:
        if entry.torch_name not in state:
            raise CheckpointError(f"the checkpoint has no tensor {entry.torch_name}")
        value = np.asarray(state[entry.torch_name])
        if entry.kind.buffer:
            _check_window(entry.torch_name, value)
            continue
        if entry.kind.perm is not None and value.ndim != len(entry.kind.perm):
            raise CheckpointError(f"{entry.torch_name} has shape {value.shape}, expected {len(entry.kind.perm)} axes")
        value = entry.kind.to_flax(value)
        if like is not None:
            want = _at(like, entry.path, entry.torch_name).shape
            if tuple(value.shape) != tuple(want):
                raise CheckpointError(f"{entry.torch_name} has shape {tuple(state[entry.torch_name].shape)}, the model "
                                      f"needs {entry.kind.torch_shape(tuple(want))}")
        node = tree
        for key in entry.path[:-1]:
            node = node.setdefault(key, {})
        node[entry.path[-1]] = value
    return tree


def _at(tree: Mapping[str, Any], path: Path, name: str) -> Any:
    for key in path:
        if not isinstance(tree, Mapping) or key not in tree:
            raise CheckpointError(f"{name}: the model has no parameter {'/'.join(path)}")
        tree = tree[key]
    return tree
