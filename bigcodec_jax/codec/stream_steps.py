"""Streaming steps: the encoder and decoder advanced a block of frames at a time, equal to offline.

A stream walks the layer sequences the offline model runs (`feature_layers()`, the LSTM through
`recur`, `head_layers()`, then the quantizer), and every layer kind has one streaming step here:

- **Stages with lag.** Each stage receives its input as a stream that lags the signal by `d_in`
  steps (at its input rate) and emits its outputs lagging by `d_out`, the least lag its right
  context (the layer's own `span`) allows. It keeps the last `buffer` inputs (its left context and
  the inputs of outputs not yet emitted) and computes, in *valid* mode, exactly the outputs whose
  whole support is present, each once: convolutions with padding 0, transposed convolutions in
  polyphase form (`WNConvTranspose1d.valid`), and the anti-aliased SnakeBeta as two stages, 2x
  upsampling + SnakeBeta (`snake_pairs_valid`) then 2x downsampling (`downsample_pairs_valid`), so that
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

Over 300 lines because every layer kind's step and the lag bookkeeping they share belong together: split,
no one file would show why a stream equals offline.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from bigcodec_jax.codec.blocks import DecoderBlock, EncoderBlock, Layer, ResidualUnit, Tanh
from bigcodec_jax.codec.model import DTYPES, BigCodecModel
from bigcodec_jax.codec.stages import StagedNetwork
from bigcodec_jax.codec.config import hop_length
from bigcodec_jax.nn.activations import AntiAliasedSnakeBeta, downsample_pairs_valid, snake_pairs_valid
from bigcodec_jax.nn.weight_norm import WNConv, WNConvTranspose1d

Span = Callable[[int, int], tuple[int, int]]

# Frame counts passed to the step are clipped to +-LIMIT: positions stay far inside int32 at every
# rate (LIMIT * 400 steps per frame) while any stage's lag and buffer are far shorter.
LIMIT = 1 << 16


class Edges(NamedTuple):
    """How much of the block is real, and where it lies relative to the start and each row's end, in frames."""

    count: jax.Array      # () int32: frames of the block that have arrived (the rest is filler)
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
    `compute(const, window)`: the outputs whose supports start at the window's first input, in valid
    mode; `prepare()`: what `compute` reuses from call to call (the weight-normed kernel), or None;
    `pad`: what the offline layer reads outside the signal ("zero", "replicate" or "none").
    """

    def __init__(self, compute: Callable[[Any, jax.Array], jax.Array], span: Span, d_in: int, rate_in: int,
                 rate_out: int, pad: str, prepare: Callable[[], Any] = lambda: None):
        self.compute, self.span, self.d_in, self.rate_in, self.rate_out, self.pad, self.prepare = \
            compute, span, d_in, rate_in, rate_out, pad, prepare
        d = 0  # outputs up to -d - 1 must read inputs up to -d_in - 1 (any block end; spans are periodic)
        while span(-d - 1, -d - 1)[1] > -d_in - 1:
            d += 1
        self.d_out = d
        self.buffer = -d_in - span(-d, -d)[0]
        assert self.buffer >= 0, (self.buffer, d_in, d)

    def step(self, const: Any, buffer: jax.Array | None, x: jax.Array, edges: Edges) -> tuple[jax.Array, jax.Array]:
        if buffer is None:
            buffer = jnp.zeros((x.shape[0], self.buffer, x.shape[2]), x.dtype)
        window = jnp.concatenate([buffer, x], axis=1)
        n = x.shape[1] // self.rate_in
        lo, hi = self.span(-self.d_out, n * self.rate_out - self.d_out - 1)
        assert lo == -self.d_in - self.buffer and hi < n * self.rate_in - self.d_in, (lo, hi)
        needed = window[:, :hi - lo + 1]
        if self.pad != "none":  # window index i is at position (frames before the block) * rate_in + lo + i
            origin = -lo - edges.start * self.rate_in
            end = -lo + edges.until_end * self.rate_in
            at_edge = (origin > 0) | jnp.any(end < needed.shape[1])  # far from both edges, skip the masking
            needed = jax.lax.cond(at_edge, lambda w: _fill(w, origin, end, self.pad), lambda w: w, needed)
        y = self.compute(const, needed)
        assert y.shape[1] == n * self.rate_out, (y.shape, n, self.rate_out)
        return jax.lax.dynamic_slice_in_dim(window, edges.count * self.rate_in, self.buffer, axis=1), y


class _Residual:
    """`x + branch(x)`: the input waits in a delay line for the branch's lag."""

    def __init__(self, unit: ResidualUnit, d_in: int, rate: int):
        self.unit, self.branch = unit, _StageChain(unit.branch(), d_in, rate)
        self.d_out, self.rate_out = self.branch.d_out, rate
        self.delay = self.d_out - d_in

    def prepare(self) -> list:
        return self.branch.prepare()

    def step(self, const: list, state: tuple | None, x: jax.Array, edges: Edges) -> tuple[tuple, jax.Array]:
        line, branch = (jnp.zeros((x.shape[0], self.delay, x.shape[2]), x.dtype), None) if state is None else state
        window = jnp.concatenate([line, x], axis=1)
        branch, y = self.branch.step(const, branch, x, edges)
        line = jax.lax.dynamic_slice_in_dim(window, edges.count * self.rate_out, self.delay, axis=1)
        return (line, branch), window[:, :x.shape[1]].astype(self.unit.dtype) + y


class _Recur:
    """The LSTM of a staged network at the frame rate: no lag, the state carries over.

    It steps only through the frames whose outputs can be real (one sequential step each, so the
    rest of the block is not paid for): none while the block's input lies before the start (frames
    there must not enter the state; the caller never runs a block that straddles the start), else
    the block's real frames up to the last row's end (a flush's later frames are past every end,
    where the next stages pad instead of reading the LSTM).
    """

    def __init__(self, net: StagedNetwork, d_in: int, rate: int):
        assert rate == 1, "the LSTM runs at the frame rate"
        self.net, self.d_out, self.rate_out = net, d_in, 1

    def prepare(self) -> None:
        return None

    def step(self, const: None, state: Any, x: jax.Array, edges: Edges) -> tuple[Any, jax.Array]:
        # the block's input frame i is the stream's frame start - d_out + i, before a row's end while
        # i < until_end + d_out
        until_last_end = jnp.max(edges.until_end) + self.d_out
        steps = jnp.clip(jnp.minimum(edges.count, until_last_end), 0, x.shape[1])
        steps = jnp.where(edges.start < self.d_out, 0, steps)
        y, state = self.net.recur(x, state, steps)
        return state, y


class _StageChain:
    """Layers in order, each stage's output stream the next one's input."""

    def __init__(self, layers: Sequence[Layer], d_in: int, rate: int):
        self.stages = []
        for layer in layers:
            for stage in _stages(layer, d_in, rate):
                self.stages.append(stage)
                d_in, rate = stage.d_out, stage.rate_out
        self.d_out, self.rate_out = d_in, rate

    def prepare(self) -> list:
        return [stage.prepare() for stage in self.stages]

    def step(self, const: list, state: list | None, x: jax.Array, edges: Edges) -> tuple[list, jax.Array]:
        state = [None] * len(self.stages) if state is None else state
        new = []
        for stage, c, s in zip(self.stages, const, state):
            s, x = stage.step(c, s, x, edges)
            new.append(s)
        return new, x


def _conv(layer: WNConv | WNConvTranspose1d, d_in: int, rate: int) -> _Stage:
    if isinstance(layer, WNConvTranspose1d):
        rate_out = rate * layer.stride
    else:
        stride = (layer.strides or (1,))[0]
        assert rate % stride == 0, f"a block of frames must hold whole strides ({rate} steps, stride {stride})"
        rate_out = rate // stride
    return _Stage(lambda kernel, w: layer.valid(w, kernel), layer.span, d_in, rate, rate_out, "zero", layer.kernel)


def _activation(layer: AntiAliasedSnakeBeta, d_in: int, rate: int) -> list[_Stage]:
    """2x upsampling + SnakeBeta (input frames -> the upsampled signal u), then 2x downsampling.

    u position `2k - 1` and `2k` form pair k (`snake_pairs_valid`); pair k reads input frames
    `k - 3 .. k + 2` and output j reads u `2j - 5 .. 2j + 6`.
    """
    def up(_, window: jax.Array) -> jax.Array:
        params = layer.variables["params"]
        pairs = snake_pairs_valid(window.astype(layer.dtype), params["alpha"].astype(layer.dtype),
                                  params["beta"].astype(layer.dtype))
        return pairs.reshape(pairs.shape[0], -1, pairs.shape[-1])

    def down(_, window: jax.Array) -> jax.Array:
        return downsample_pairs_valid(window.reshape(window.shape[0], -1, 2, window.shape[-1]))

    upsample = _Stage(up, lambda lo, hi: (-(-lo // 2) - 3, -(-hi // 2) + 2), d_in, rate, 2 * rate, "replicate")
    assert upsample.d_out % 2 == 1, "blocks of u must start at the first sample of a pair"
    downsample = _Stage(down, lambda lo, hi: (2 * lo - 5, 2 * hi + 6), upsample.d_out, 2 * rate, rate, "replicate")
    return [upsample, downsample]


def _stages(layer: Layer, d_in: int, rate: int) -> list:
    """The streaming stages of one layer of a stage sequence, dispatched on its kind."""
    if isinstance(layer, ResidualUnit):
        return [_Residual(layer, d_in, rate)]
    if isinstance(layer, (EncoderBlock, DecoderBlock)):
        return _StageChain(layer.layers(), d_in, rate).stages
    if isinstance(layer, (WNConv, WNConvTranspose1d)):
        return [_conv(layer, d_in, rate)]
    if isinstance(layer, AntiAliasedSnakeBeta):
        return _activation(layer, d_in, rate)
    if isinstance(layer, Tanh):
        return [_Stage(lambda _, x: jnp.tanh(x), lambda lo, hi: (lo, hi), d_in, rate, rate, "none")]
    raise TypeError(f"no streaming step for {type(layer).__name__}")


class _Network:
    """`features` -> `recur` -> `head` of a staged network as one stream."""

    def __init__(self, net: StagedNetwork, rate: int):
        self.rate_in = rate
        self.features = _StageChain(net.feature_layers(), 0, rate)
        self.recur = _Recur(net, self.features.d_out, self.features.rate_out)
        self.head = _StageChain(net.head_layers(), self.recur.d_out, 1)
        self.delay, self.rate_out = self.head.d_out, self.head.rate_out

    def prepare(self) -> tuple:
        return self.features.prepare(), self.head.prepare()

    def step(self, const: tuple, state: tuple | None, x: jax.Array, edges: Edges) -> tuple[tuple, jax.Array]:
        features, recur, head = (None, None, None) if state is None else state
        features, x = self.features.step(const[0], features, x, edges)
        recur, x = self.recur.step(None, recur, x, edges)
        head, x = self.head.step(const[1], head, x, edges)
        return (features, recur, head), x


def _encoder(model: BigCodecModel) -> _Network:
    return _Network(model.encoder, hop_length(model.config))


def _decoder(model: BigCodecModel) -> _Network:
    return _Network(model.decoder, 1)


def encode_step(model: BigCodecModel, const: tuple, state: tuple | None, wav: jax.Array, edges: Edges
                ) -> tuple[tuple, jax.Array]:
    """Audio `(B, n * hop)` -> (state, codes `(B, n_q, n)` lagging the audio by `StreamPass.delay` frames)."""
    state, latents = _encoder(model).step(const, state, wav[..., None], edges)
    return state, model.quantize(latents)[1]


def decode_step(model: BigCodecModel, const: tuple, state: tuple | None, codes: jax.Array, edges: Edges
                ) -> tuple[tuple, jax.Array]:
    """Codes `(B, n_q, n)` -> (state, audio `(B, n * hop)` lagging the codes by `StreamPass.delay` samples)."""
    state, audio = _decoder(model).step(const, state, model.embed(codes), edges)
    return state, audio[..., 0].astype(jnp.float32)


class StreamPass(NamedTuple):
    """The jitted functions of one direction and its geometry.

    `prepare(params)` computes what every step reuses (the weight-normed kernels: normalising 159 M
    weights on every call would cost more than a small block's work); `init(params, batch)` is the
    zero state; `step(params, const, state, inputs, count, start, until_end)` advances `count`
    frames, the first of the block's `inputs.shape[-1] / rate_in` (the rest is filler, so that a
    few block sizes serve any push). Outputs of the block starting at frame F are at positions
    `[F * rate_out - delay, ...)`, the first `count * rate_out` of them real. The real frames must
    lie wholly before or wholly after frame `recur_delay` (where the LSTM's input reaches the start).
    """

    prepare: jax.stages.Wrapped
    init: Callable[[Any, int], Any]
    step: jax.stages.Wrapped
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
    """The shared jitted streaming functions of a frozen model config and compute dtype."""
    model = BigCodecModel(config, DTYPES[dtype])
    precision = "highest" if dtype == "float32" else "default"
    hop, n_q = hop_length(config), config.decoder.vq_num_quantizers
    geometry = BigCodecModel(config).bind({})  # spans need no parameters

    def make(network: Callable[[BigCodecModel], _Network], method: Callable, input_spec: Callable[[int], Any]
             ) -> StreamPass:
        def prepare(params):
            return model.apply({"params": params}, method=lambda m: network(m).prepare())

        def step(params, const, state, inputs, count, start, until_end):
            with jax.default_matmul_precision(precision):
                return model.apply({"params": params}, const, state, inputs, Edges(count, start, until_end),
                                   method=method)

        shapes: dict[int, Any] = {}  # the state's shapes by batch size: tracing the network once per batch size

        def init(params, batch: int):
            if batch not in shapes:
                scalar = jax.ShapeDtypeStruct((), jnp.int32)
                edges = (scalar, scalar, jax.ShapeDtypeStruct((batch,), jnp.int32))
                shapes[batch] = jax.eval_shape(lambda p, *a: step(p, prepare(p), None, *a), params,
                                               input_spec(batch), *edges)[0]
            return jax.tree.map(lambda s: np.zeros(s.shape, s.dtype), shapes[batch])  # host zeros: nothing to compile

        net = network(geometry)
        return StreamPass(jax.jit(prepare), init, jax.jit(step), net.rate_in, net.rate_out, net.delay,
                          net.features.d_out)

    return StreamPasses(
        make(_encoder, encode_step, lambda b: jax.ShapeDtypeStruct((b, hop), jnp.float32)),
        make(_decoder, decode_step, lambda b: jax.ShapeDtypeStruct((b, n_q, 1), jnp.int32)))
