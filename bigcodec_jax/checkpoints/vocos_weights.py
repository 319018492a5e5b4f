"""Weight tables of the X-Codec2 / NeuCodec quantiser, Vocos decoder, semantic adapter and linears.

Each function yields `layout.Entry`s (official tensor name, Flax path, layout kind) for one official module,
given the module's state-dict prefix (`generator.quantizer`, `generator`, `SemanticEncoder_module`,
`fc_prior`, ...) and the Flax path where its parameters live; `layout.tree_from_state` reads a state dict
with them. The tensors the official modules keep as non-persistent buffers
(the FSQ's levels, the rotary cache) are not in checkpoints; the ISTFT window is, as a `BUFFER` entry
that is checked (a periodic Hann window) and not converted.
"""
from __future__ import annotations

from typing import Iterator

from bigcodec_jax.checkpoints.layout import BUFFER, CONV1D, MATRIX, PLAIN, Entry

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
