"""The one table that maps official PyTorch tensor names to paths in the Flax parameter tree.

`entries(config, sections)` walks the model structure and yields, for every official tensor,
its name, its Flax path and how its layout differs (`Kind`). Conversion in both directions,
missing/unexpected-key detection and config inference all read this table.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Iterable, Iterator, Mapping

import ml_collections
import numpy as np

from bigcodec_jax.checkpoints.torch_zip import CheckpointError

# Sections of the released checkpoint and where their parameters live in the converted tree.
GENERATOR_SECTIONS = ("CodecEnc", "generator")
DISCRIMINATOR_SECTIONS = ("discriminator", "spec_discriminator")


@dataclasses.dataclass(frozen=True)
class Kind:
    """How a tensor's PyTorch layout maps to Flax: an axis permutation, or a gain reshape."""

    perm: tuple[int, ...] | None = None  # flax = torch.transpose(perm)
    gain_ndim: int = 0                   # > 0: a weight-norm gain, torch shape (n, 1, ..., 1) with this ndim
    buffer: bool = False                 # a constant buffer (resampling filters): checked, not converted

    def to_flax(self, a: np.ndarray) -> np.ndarray:
        if self.gain_ndim:
            return a.reshape(a.shape[0])
        return np.ascontiguousarray(a.transpose(self.perm)) if self.perm else a

    def to_torch(self, a: np.ndarray) -> np.ndarray:
        if self.gain_ndim:
            return a.reshape((a.shape[0],) + (1,) * (self.gain_ndim - 1))
        return np.ascontiguousarray(a.transpose(np.argsort(self.perm))) if self.perm else a

    def torch_shape(self, flax_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The shape `to_torch` gives, computed without an array (a damaged config can ask for any size)."""
        if self.gain_ndim:
            return (flax_shape[0],) + (1,) * (self.gain_ndim - 1)
        return tuple(flax_shape[i] for i in np.argsort(self.perm)) if self.perm else tuple(flax_shape)


PLAIN = Kind()
BUFFER = Kind(buffer=True)
CONV1D = Kind(perm=(2, 1, 0))        # (out, in, k) -> (k, in, out)
CONV2D = Kind(perm=(2, 3, 1, 0))     # (out, in, kh, kw) -> (kh, kw, in, out)
CONV_T = Kind(perm=(2, 0, 1))        # (in, out, k) -> (k, in, out)
MATRIX = Kind(perm=(1, 0))           # Linear / LSTM (out, in) -> (in, out)


@dataclasses.dataclass(frozen=True)
class Entry:
    torch_name: str            # "<section>.<state-dict key>"
    path: tuple[str, ...]      # path in the converted tree (first element: generator | discriminators)
    kind: Kind


def _weight_norm(name: str, path: tuple[str, ...], v_kind: Kind, ndim: int) -> Iterator[Entry]:
    yield Entry(f"{name}.bias", path + ("bias",), PLAIN)
    yield Entry(f"{name}.weight_g", path + ("g",), Kind(gain_ndim=ndim))
    yield Entry(f"{name}.weight_v", path + ("v",), v_kind)


def _act(name: str, path: tuple[str, ...]) -> Iterator[Entry]:
    yield Entry(f"{name}.act.alpha", path + ("alpha",), PLAIN)
    yield Entry(f"{name}.act.beta", path + ("beta",), PLAIN)
    yield Entry(f"{name}.upsample.filter", path + ("upsample_filter",), BUFFER)
    yield Entry(f"{name}.downsample.lowpass.filter", path + ("downsample_filter",), BUFFER)


def _res_unit(name: str, path: tuple[str, ...]) -> Iterator[Entry]:
    yield from _act(f"{name}.block.0", path + ("act_1",))
    yield from _weight_norm(f"{name}.block.1", path + ("conv_1",), CONV1D, 3)
    yield from _act(f"{name}.block.2", path + ("act_2",))
    yield from _weight_norm(f"{name}.block.3", path + ("conv_2",), CONV1D, 3)


def _lstm(name: str, path: tuple[str, ...], layers: int) -> Iterator[Entry]:
    for k in range(layers):
        yield Entry(f"{name}.lstm.weight_ih_l{k}", path + (f"layer_{k}_kernel_ih",), MATRIX)
        yield Entry(f"{name}.lstm.weight_hh_l{k}", path + (f"layer_{k}_kernel_hh",), MATRIX)
        yield Entry(f"{name}.lstm.bias_ih_l{k}", path + (f"layer_{k}_bias_ih",), PLAIN)
        yield Entry(f"{name}.lstm.bias_hh_l{k}", path + (f"layer_{k}_bias_hh",), PLAIN)


def encoder_blocks(cfg: ml_collections.ConfigDict, conv_in: str, blocks: list[str], path: tuple[str, ...]
                   ) -> Iterator[Entry]:
    """The acoustic encoder's input conv and strided blocks (`codec.encoder.Encoder`'s `conv_in`, `block_i`),
    under the official names `conv_in` and `blocks[i]`: BigCodec's and X-Codec2's encoders share them."""
    yield from _weight_norm(conv_in, path + ("conv_in",), CONV1D, 3)
    n_res = len(cfg.dilations)
    for b, name in enumerate(blocks):
        block, bpath = f"{name}.block", path + (f"block_{b}",)
        for j in range(n_res):
            yield from _res_unit(f"{block}.{j}", bpath + (f"res_{j}",))
        yield from _act(f"{block}.{n_res}", bpath + ("act",))
        yield from _weight_norm(f"{block}.{n_res + 1}", bpath + ("conv",), CONV1D, 3)


def encoder_head(act_out: str, conv_out: str, path: tuple[str, ...]) -> Iterator[Entry]:
    """The acoustic encoder's final activation and conv (`act_out`, `conv_out`) under their official names."""
    yield from _act(act_out, path + ("act_out",))
    yield from _weight_norm(conv_out, path + ("conv_out",), CONV1D, 3)


def _encoder(cfg: ml_collections.ConfigDict) -> Iterator[Entry]:
    root, path = "CodecEnc.block", ("generator", "encoder")
    n = len(cfg.up_ratios)
    yield from encoder_blocks(cfg, f"{root}.0", [f"{root}.{i}" for i in range(1, n + 1)], path)
    i = n + 1
    if cfg.use_rnn:
        yield from _lstm(f"{root}.{i}", path + ("lstm",), cfg.rnn_num_layers)
        i += 1
    yield from encoder_head(f"{root}.{i}", f"{root}.{i + 1}", path)


def _quantizer(cfg: ml_collections.ConfigDict) -> Iterator[Entry]:
    for q in range(cfg.vq_num_quantizers):
        name, path = f"generator.quantizer.layers.{q}", ("generator", "quantizer", f"layer_{q}")
        if cfg.vq_dim != cfg.codebook_dim:
            yield from _weight_norm(f"{name}.in_proj", path + ("in_proj",), MATRIX, 2)
            yield from _weight_norm(f"{name}.out_proj", path + ("out_proj",), MATRIX, 2)
        yield Entry(f"{name}._codebook.weight", path + ("codebook",), PLAIN)


def _decoder(cfg: ml_collections.ConfigDict) -> Iterator[Entry]:
    root, path = "generator.model", ("generator", "decoder")
    yield from _weight_norm(f"{root}.0", path + ("conv_in",), CONV1D, 3)
    i = 1
    if cfg.use_rnn:
        yield from _lstm(f"{root}.{i}", path + ("lstm",), cfg.rnn_num_layers)
        i += 1
    for b in range(len(cfg.up_ratios)):
        block, bpath = f"{root}.{i}.block", path + (f"block_{b}",)
        yield from _act(f"{block}.0", bpath + ("act",))
        yield from _weight_norm(f"{block}.1", bpath + ("conv_t",), CONV_T, 3)
        for j in range(len(cfg.dilations)):
            yield from _res_unit(f"{block}.{j + 2}", bpath + (f"res_{j}",))
        i += 1
    yield from _act(f"{root}.{i}", path + ("act_out",))
    yield from _weight_norm(f"{root}.{i + 1}", path + ("conv_out",), CONV1D, 3)


MPD_CONV_LAYERS = 5  # the official period discriminator always has five (5, 1) convolutions


def _mpd(cfg: ml_collections.ConfigDict) -> Iterator[Entry]:
    for p in range(len(cfg.periods)):
        name, path = f"discriminator.discriminators.{p}", ("discriminators", "mpd", f"period_{p}")
        for layer in range(MPD_CONV_LAYERS):
            yield from _weight_norm(f"{name}.convs.{layer}.0", path + (f"conv_{layer}",), CONV2D, 4)
        yield from _weight_norm(f"{name}.output_conv", path + ("conv_out",), CONV2D, 4)


def _mstft(cfg: ml_collections.ConfigDict) -> Iterator[Entry]:
    n = len(cfg.downsample_scales) + 2  # first conv, downsampling convs, one more conv; then the output conv
    for r in range(len(cfg.stft_params.fft_sizes)):
        name, path = f"spec_discriminator.model.disc_{r}.model", ("discriminators", "mstft", f"resolution_{r}")
        for layer in range(n):
            yield from _weight_norm(f"{name}.layer_{layer}.0", path + (f"conv_{layer}",), CONV2D, 4)
        yield from _weight_norm(f"{name}.layer_{n}", path + ("conv_out",), CONV2D, 4)


def entries(config: ml_collections.ConfigDict, sections: tuple[str, ...] = GENERATOR_SECTIONS) -> list[Entry]:
    """Every official tensor of the given checkpoint sections, in the official order."""
    out: list[Entry] = []
    if "CodecEnc" in sections:
        out += _encoder(config.encoder)
    if "generator" in sections:
        out += [*_quantizer(config.decoder), *_decoder(config.decoder)]
    if "discriminator" in sections:
        out += _mpd(config.mpd)
    if "spec_discriminator" in sections:
        out += _mstft(config.mstft)
    return out


def tree_from_state(state: Mapping[str, np.ndarray], table: Iterable[Entry], like: Mapping[str, Any] | None = None,
                    what: str = "the checkpoint") -> dict:
    """The nested Flax parameter dict of `table`'s entries read from a flat state dict (numpy arrays by official
    name), as float32; `BUFFER` entries (constants the architecture fixes: resampling filters, windows) are
    not read. A missing tensor, or one whose shape does not fit its kind or (given `like`, a tree of arrays or
    shape structs at the same paths) the model, raises `CheckpointError` naming the tensor and `what` lacks it."""
    tree: dict = {}
    for entry in table:
        if entry.kind.buffer:
            continue
        if entry.torch_name not in state:
            raise CheckpointError(f"{what} has no tensor {entry.torch_name}")
        value = np.asarray(state[entry.torch_name])
        if entry.kind.perm is not None and value.ndim != len(entry.kind.perm):
            raise CheckpointError(f"{entry.torch_name} has shape {value.shape}, expected {len(entry.kind.perm)} axes")
        value = entry.kind.to_flax(value).astype(np.float32)
        if like is not None:
            want = tuple(_leaf(like, entry.path, entry.torch_name).shape)
            if value.shape != want:
                raise CheckpointError(f"{entry.torch_name} has shape {tuple(np.shape(state[entry.torch_name]))}, "
                                      f"the model needs {entry.kind.torch_shape(want)}")
        node = tree
        for key in entry.path[:-1]:
            node = node.setdefault(key, {})
        node[entry.path[-1]] = value
    return tree


def _leaf(tree: Mapping[str, Any], path: tuple[str, ...], name: str) -> Any:
    for key in path:
        if not isinstance(tree, Mapping) or key not in tree:
            raise CheckpointError(f"{name}: the model has no parameter {'/'.join(path)}")
        tree = tree[key]
    return tree
