"""Streaming steps: the encoder and decoder advanced a block of frames at a time, equal to offline.

A stream walks the layer sequences the offline model runs (`feature_layers()`, the LSTM through
`recur`, `head_layers()`, then the quantizer), and every layer kind has one streaming step here:

- **Stages with lag.** Each stage receives its input as a stream that lags the signal by `d_in`
  steps (at its input rate) and emits its outputs lagging by `d_out`, the least lag its right
  context (the layer's own `span`) allows. It keeps the last `buffer` inputs (its left context and
  the inputs of outputs not yet emitted) and computes, in *valid* mode, exactly the outputs whose
  whole support is present, each once: convolutions with padding 0, transposed convolutions in
  polyphase form (`WNConvTranspose1d.valid`), and the anti-aliased SnakeBeta as two stages, 2x
  upsampling + SnakeBeta (`upsample2_pairs`) then 2x downsampling (`downsample2_pairs`), so that
  neither resampling step is recomputed. A residual unit adds its input delayed by its branch's
  lag; the LSTM carries its `(h, c)` state; `Tanh`, the quantizer and the embedding are per step.
- **Edges.** Inputs before the stream's start or from a row's end on are replaced by what the
  offline layer pads there: zeros for convolutions, the first / last sample for each resampling
  step of the activation (PyTorch's replicate padding, at the input and at the upsampled rate),
  as `nn/masking.py` does for right-padded batches. So the first and last outputs, including a
  flush at any row's end, equal the offline ones.
- **Blocks.** A call advances every stage by `n` frames (`n * rate` steps at each rate), so the
  jitted step compiles once per block size and batch size, whatever the push sizes. Outputs at
  positions before the start are filler that the caller drops; the LSTM keeps its zero state
  until its input reaches the start (a block must not straddle that point: see `StreamPass`).

The lag of the whole network, `StreamPass.delay`, is the lookahead of the stream; it equals the
receptive field of `codec/receptive_field.py` (tests/test_streaming.py checks it).
"""
from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from bigcodec_jax.codec.blocks import DecoderBlock, EncoderBlock, Layer, ResidualUnit, Tanh
from bigcodec_jax.codec.model import DTYPES, BigCodecModel
from bigcodec_jax.codec.stages import StagedNetwork
from bigcodec_jax.config import hop_length
from bigcodec_jax.nn.activations import AntiAliasedSnakeBeta, downsample2_pairs, snake_beta, upsample2_pairs
from bigcodec_jax.nn.weight_norm import WNConv, WNConvTranspose1d

Span = Callable[[int, int], tuple[int, int]]

# Frame counts passed to the step are clipped to +-LIMIT: positions stay far inside int32 at every
# rate (LIMIT * 400 steps per frame) while any stage's lag and buffer are far shorter.
LIMIT = 1 << 16


class Edges(NamedTuple):
    """Where the block lies relative to the stream's start and each row's end, in frames."""

    start: jax.Array      # () int32: frames processed before this block (at most LIMIT)
    until_end: jax.Array  # (B,) int32: frames from this block's first frame to each row's end (+-LIMIT)


def _fill(x: jax.Array, first: jax.Array, end: jax.Array, pad: str) -> jax.Array:
    """Window `x (B, W, C)` with indices before `first` and from `end (B,)` on set to the layer's padding."""
    i = jnp.arange(x.shape[1])[None, :, None]
    before, after = i < first, i >= end[:, None, None]
    if pad == "zero":
        return jnp.where(before | after, jnp.zeros((), x.dtype), x)
    last = x.shape[1] - 1
    head = jax.lax.dynamic_slice_in_dim(x, jnp.clip(first, 0, last), 1, axis=1)
    tail = jnp.take_along_axis(x, jnp.clip(end - 1, 0, last)[:, None, None], axis=1)
    return jnp.where(before, head, jnp.where(after, tail, x))


class _Stage:
    """One layer (or one resampling step of the activation) as a stream stage.

    `span(lo, hi)`: the input positions that outputs `[lo, hi]` read (edge padding included);
    `compute(window)`: the outputs whose supports start at the window's first input, in valid mode;
    `pad`: what the offline layer reads outside the signal ("zero", "replicate" or "none").
    """

    def __init__(self, compute: Callable[[jax.Array], jax.Array], span: Span, d_in: int, rate_in: int,
                 rate_out: int, pad: str):
        self.compute, self.span, self.d_in, self.rate_in, self.rate_out, self.pad = \
            compute, span, d_in, rate_in, rate_out, pad
        d = 0  # outputs up to -d - 1 must read inputs up to -d_in - 1 (any block end; spans are periodic)
        while span(-d - 1, -d - 1)[1] > -d_in - 1:
            d += 1
        self.d_out = d
        self.buffer = -d_in - span(-d, -d)[0]
        assert self.buffer >= 0, (self.buffer, d_in, d)

    def step(self, buffer: jax.Array | None, x: jax.Array, edges: Edges) -> tuple[jax.Array, jax.Array]:
        if buffer is None:
            buffer = jnp.zeros((x.shape[0], self.buffer, x.shape[2]), x.dtype)
        window = jnp.concatenate([buffer, x], axis=1)
        n = x.shape[1] // self.rate_in
        lo, hi = self.span(-self.d_out, n * self.rate_out - self.d_out - 1)
        assert lo == -self.d_in - self.buffer and hi < n * self.rate_in - self.d_in, (lo, hi)
        needed = window[:, :hi - lo + 1]
        if self.pad != "none":  # window index i is at position (frames before the block) * rate_in + lo + i
            origin = -lo - edges.start * self.rate_in
            needed = _fill(needed, origin, -lo + edges.until_end * self.rate_in, self.pad)
        return window[:, window.shape[1] - self.buffer:], self.compute(needed)


class _Residual:
    """`x + branch(x)`: the input waits in a delay line for the branch's lag."""

    def __init__(self, unit: ResidualUnit, d_in: int, rate: int):
        self.unit, self.branch = unit, _Sequence(unit.branch(), d_in, rate)
        self.d_out, self.rate_out = self.branch.d_out, rate
        self.delay = self.d_out - d_in

    def step(self, state: tuple | None, x: jax.Array, edges: Edges) -> tuple[tuple, jax.Array]:
        line, branch = (jnp.zeros((x.shape[0], self.delay, x.shape[2]), x.dtype), None) if state is None else state
        window = jnp.concatenate([line, x], axis=1)
        branch, y = self.branch.step(branch, x, edges)
        skip = window[:, :x.shape[1]]
        return (window[:, x.shape[1]:], branch), skip.astype(self.unit.dtype) + y


class _Recur:
    """The LSTM of a staged network at the frame rate: no lag, the state carries over.

    Frames before the start must not enter the state: a block whose input lies wholly before it
    keeps the (zero) state, and the caller never runs a block that straddles the start.
    """

    def __init__(self, net: StagedNetwork, d_in: int, rate: int):
        assert rate == 1, "the LSTM runs at the frame rate"
        self.net, self.d_out, self.rate_out = net, d_in, 1

    def step(self, state: Any, x: jax.Array, edges: Edges) -> tuple[Any, jax.Array]:
        y, new = self.net.recur(x, state)
        if state is not None:
            before_start = edges.start < self.d_out
            new = jax.tree.map(lambda old, cur: jnp.where(before_start, old, cur), state, new)
        return new, y


class _Sequence:
    """Layers in order, each stage's output stream the next one's input."""

    def __init__(self, layers: Sequence[Layer], d_in: int, rate: int):
        self.stages = []
        for layer in layers:
            for stage in _stages(layer, d_in, rate):
                self.stages.append(stage)
                d_in, rate = stage.d_out, stage.rate_out
        self.d_out, self.rate_out = d_in, rate

    def step(self, state: list | None, x: jax.Array, edges: Edges) -> tuple[list, jax.Array]:
        state = [None] * len(self.stages) if state is None else state
        new = []
        for stage, s in zip(self.stages, state):
            s, x = stage.step(s, x, edges)
            new.append(s)
        return new, x


def _params(layer: nn.Module) -> dict:
    return layer.variables["params"]


def _conv(layer: WNConv, d_in: int, rate: int) -> _Stage:
    valid = layer.clone(parent=None, padding=(0,) * len(layer.kernel_size))
    stride = (layer.strides or (1,))[0]
    assert rate % stride == 0, f"a block of frames must hold whole strides ({rate} steps, stride {stride})"
    return _Stage(lambda w: valid.apply({"params": _params(layer)}, w), layer.span, d_in, rate, rate // stride,
                  "zero")


def _activation(layer: AntiAliasedSnakeBeta, d_in: int, rate: int) -> list[_Stage]:
    """2x upsampling + SnakeBeta (input frames -> the upsampled signal u), then 2x downsampling.

    u position `2k - 1` and `2k` form pair k (`upsample2_pairs`); pair k reads input frames
    `k - 3 .. k + 2` and output j reads u `2j - 5 .. 2j + 6`.
    """
    def up(window: jax.Array) -> jax.Array:
        params = _params(layer)
        pairs = upsample2_pairs(window.astype(layer.dtype))
        pairs = snake_beta(pairs, params["alpha"].astype(layer.dtype), params["beta"].astype(layer.dtype))
        return pairs.reshape(pairs.shape[0], -1, pairs.shape[-1])

    def down(window: jax.Array) -> jax.Array:
        return downsample2_pairs(window.reshape(window.shape[0], -1, 2, window.shape[-1]))

    upsample = _Stage(up, lambda lo, hi: (-(-lo // 2) - 3, -(-hi // 2) + 2), d_in, rate, 2 * rate, "replicate")
    assert upsample.d_out % 2 == 1, "blocks of u must start at the first sample of a pair"
    downsample = _Stage(down, lambda lo, hi: (2 * lo - 5, 2 * hi + 6), upsample.d_out, 2 * rate, rate, "replicate")
    return [upsample, downsample]


def _stages(layer: Layer, d_in: int, rate: int) -> list:
    """The streaming stages of one layer of a stage sequence, dispatched on its kind."""
    if isinstance(layer, ResidualUnit):
        return [_Residual(layer, d_in, rate)]
    if isinstance(layer, (EncoderBlock, DecoderBlock)):
        return _Sequence(layer.layers(), d_in, rate).stages
    if isinstance(layer, WNConv):
        return [_conv(layer, d_in, rate)]
    if isinstance(layer, WNConvTranspose1d):
        return [_Stage(layer.valid, layer.span, d_in, rate, rate * layer.stride, "zero")]
    if isinstance(layer, AntiAliasedSnakeBeta):
        return _activation(layer, d_in, rate)
    if isinstance(layer, Tanh):
        return [_Stage(jnp.tanh, lambda lo, hi: (lo, hi), d_in, rate, rate, "none")]
    raise TypeError(f"no streaming step for {type(layer).__name__}")


class _Network:
    """`features` -> `recur` -> `head` of a staged network as one stream."""

    def __init__(self, net: StagedNetwork, rate: int):
        self.features = _Sequence(net.feature_layers(), 0, rate)
        self.recur = _Recur(net, self.features.d_out, self.features.rate_out)
        self.head = _Sequence(net.head_layers(), self.recur.d_out, 1)
        self.delay, self.rate_out = self.head.d_out, self.head.rate_out

    def step(self, state: tuple | None, x: jax.Array, edges: Edges) -> tuple[tuple, jax.Array]:
        features, recur, head = (None, None, None) if state is None else state
        features, x = self.features.step(features, x, edges)
        recur, x = self.recur.step(recur, x, edges)
        head, x = self.head.step(head, x, edges)
        return (features, recur, head), x


def encode_step(model: BigCodecModel, state: tuple | None, wav: jax.Array, edges: Edges
                ) -> tuple[tuple, jax.Array]:
    """Audio `(B, n * hop)` -> (state, codes `(B, n_q, n)` lagging the audio by `StreamPass.delay` frames)."""
    state, latents = _Network(model.encoder, hop_length(model.config)).step(state, wav[..., None], edges)
    return state, model.quantize(latents)[1]


def decode_step(model: BigCodecModel, state: tuple | None, codes: jax.Array, edges: Edges
                ) -> tuple[tuple, jax.Array]:
    """Codes `(B, n_q, n)` -> (state, audio `(B, n * hop)` lagging the codes by `StreamPass.delay` samples)."""
    state, audio = _Network(model.decoder, 1).step(state, model.embed(codes), edges)
    return state, audio[..., 0].astype(jnp.float32)


class StreamPass(NamedTuple):
    """The jitted step of one direction and its geometry.

    `step(params, state, inputs, start, until_end)` advances `inputs.shape[-1] / rate_in` frames.
    Outputs of the block starting at frame F are at positions `[F * rate_out - delay, ...)`.
    A block must lie wholly before or wholly after frame `recur_delay` (where the LSTM's input
    reaches the start).
    """

    step: jax.stages.Wrapped
    init: Callable[[Any, int], Any]  # (params, batch) -> zero state
    rate_in: int       # input steps per frame (the hop for audio, 1 for codes)
    rate_out: int      # output steps per frame
    delay: int         # lag of the outputs, in output steps
    recur_delay: int   # lag of the LSTM's input, in frames

    @property
    def lookahead(self) -> int:
        """Frames after a frame that must be pushed before all of its outputs are final."""
        return -(-self.delay // self.rate_out)


class StreamPasses(NamedTuple):
    encode: StreamPass  # audio -> codes
    decode: StreamPass  # codes -> audio


@functools.lru_cache(maxsize=None)
def stream_passes_for(config: ml_collections.FrozenConfigDict, dtype: str) -> StreamPasses:
    """The shared jitted streaming steps of a frozen model config and compute dtype."""
    model = BigCodecModel(config, DTYPES[dtype])
    precision = "highest" if dtype == "float32" else "default"
    hop = hop_length(config)
    geometry = BigCodecModel(config).bind({})  # spans need no parameters

    def make(method, network: _Network, rate_in: int, input_spec: Callable[[int], jax.ShapeDtypeStruct]
             ) -> StreamPass:
        def apply(params, state, inputs, start, until_end):
            with jax.default_matmul_precision(precision):
                return model.apply({"params": params}, state, inputs, Edges(start, until_end), method=method)

        def init(params, batch: int):
            edges = (jax.ShapeDtypeStruct((), jnp.int32), jax.ShapeDtypeStruct((batch,), jnp.int32))
            shapes = jax.eval_shape(apply, params, None, input_spec(batch), *edges)[0]
            return jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)

        return StreamPass(jax.jit(apply), init, rate_in, network.rate_out, network.delay,
                          network.features.d_out)

    n_q = config.decoder.vq_num_quantizers
    return StreamPasses(
        make(encode_step, _Network(geometry.encoder, hop), hop,
             lambda b: jax.ShapeDtypeStruct((b, hop), jnp.float32)),
        make(decode_step, _Network(geometry.decoder, 1), 1,
             lambda b: jax.ShapeDtypeStruct((b, n_q, 1), jnp.int32)))
