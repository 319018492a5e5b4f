"""The LSTM alone, computed four ways at the model's size: which way a pass should use on this machine.

A pass's ResLSTM (`nn/recurrent.py`: the input products of all frames at once, then one step per frame
and layer, then the residual) is the codec's only sequential part. On a 10 s clip the released model's
two layers step through 800 frames each, in the encoder and again in the decoder, whatever the batch.
On an accelerator a step is a few small kernels, so it costs kernel launches and one read of a
1536 x 6144 matrix more than arithmetic, and batch 64 pays what batch 8 pays. This command times the
model's own ResLSTM against three other ways to compute the same outputs, on the same random weights
and inputs, and reports each one's largest difference from the model's:

- `scan`: the model's (`ResLSTM`: one `lax.scan` step per frame, one layer after the other);
- `unroll8`: the same scan with 8 frames per loop iteration (fewer iterations, the same kernels);
- `wavefront`: all layers in one loop, layer k one frame behind layer k - 1, and one matrix product
  per step (the layers' hidden states side by side times a block matrix of their recurrent and next
  input weights): a layer count times fewer sequential steps and kernels, for a larger matrix read
  per step (the next layers' input weights, which the scan reads once for all frames);
- `cudnn`: `jax.experimental.rnn.lstm`, NVIDIA's cuDNN LSTM (a GPU only; computes in float32, with
  TF32 products).

Each is jitted with the passes' compiler options, compiled once (timed), then timed as the median of
`--repeats` calls after a warm-up. The ways run in that order, each at every dtype and batch size: the
model's scan (whether the LSTM bounds a call at all) comes first, and cuDNN, the one outside XLA, comes
last, so that a crash in it loses nothing else. Measurements that would not fit `--budget-seconds` are
skipped and say so. Run it on a lent accelerator before the suite (docs/benchmarks.md): a minute says whether the
LSTM bounds a pass there and which way removes it.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from bigcodec_jax import errors
from bigcodec_jax.audio import SAMPLE_RATE
from bigcodec_jax.benchmark.common import compile_timed, device_line, machine, time_calls
from bigcodec_jax.codec.passes import compiler_options
from bigcodec_jax.config import VARIANTS, hop_length, model_config
from bigcodec_jax.io import staged
from bigcodec_jax.nn.recurrent import ResLSTM, lstm_cell

WAYS = ("scan", "unroll8", "wavefront", "cudnn")
COMPILE_PRIOR_S = 10.0  # a first compile's estimate before anything is measured


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--variant", default="full", choices=VARIANTS, help="model variant (default: the released full size)")
    p.add_argument("--seconds", type=errors.positive_seconds, default=10.0, help="clip length (the released model: 80 frames a second)")
    p.add_argument("--batch-sizes", type=errors.positive_int, nargs="+", default=[8, 64])
    p.add_argument("--dtypes", nargs="+", default=["bfloat16", "float32"], choices=["float32", "bfloat16"])
    p.add_argument("--ways", nargs="+", default=list(WAYS), choices=WAYS, help="which ways to time (scan is the model's)")
    p.add_argument("--repeats", type=errors.positive_int, default=5, help="timed calls of each after a warm-up")
    p.add_argument("--budget-seconds", type=float, default=90.0, help="wall-clock budget; what does not fit is skipped")
    p.add_argument("--output", help="JSON file of the rows (rewritten after each)")


def _weight(params: dict, name: str, k: int, dtype) -> jax.Array:
    """Layer `k`'s tensor `name` (`kernel_ih`, `bias_hh`, ...) in `dtype`, as `ResLSTM` casts it."""
    return params[f"layer_{k}_{name}"].astype(dtype)


def wavefront(params: dict, x: jax.Array, num_layers: int, dtype) -> jax.Array:
    """`ResLSTM(num_layers, dtype)` of `x` `(B, T, H)`, all layers in one loop of `T + num_layers - 1` steps.

    At step t layer k computes frame t - k; its input, layer k - 1's output at that frame, is what layer
    k - 1 computed at step t - 1. So one product gives every layer's gates: the hidden states `[h_0 ...]`
    `(B, L H)` times a block matrix whose block (k, k) is layer k's recurrent weights and (k - 1, k) its
    input weights. Layer k keeps its zero state during its first k steps (nothing has reached it yet);
    what it computes past frame T - 1 is never read.
    """
    x = x.astype(dtype)
    batch, frames, width = x.shape
    gates_width = 4 * width
    blocks = [[jnp.zeros((width, gates_width), dtype)] * num_layers for _ in range(num_layers)]
    biases = []
    for k in range(num_layers):
        blocks[k][k] = _weight(params, "kernel_hh", k, dtype)
        if k > 0:
            blocks[k - 1][k] = _weight(params, "kernel_ih", k, dtype)
        biases.append(_weight(params, "bias_ih", k, dtype) + _weight(params, "bias_hh", k, dtype))
    matrix = jnp.block(blocks)  # (L H, L 4H)
    steps = frames + num_layers - 1
    first = x @ _weight(params, "kernel_ih", 0, dtype) + biases[0]  # layer 0's input products, all frames at once
    first = jnp.pad(first, ((0, 0), (0, num_layers - 1), (0, 0)))  # layer 0 has no frames in the last steps
    later = jnp.broadcast_to(jnp.concatenate(biases[1:] or [jnp.zeros((0,), dtype)]),
                             (batch, steps, gates_width * (num_layers - 1)))  # the other layers' biases
    inputs = jnp.concatenate([first, later], axis=-1)

    def step(carry, step_inputs):
        h, c = carry
        t, gates_x = step_inputs
        gates = gates_x + h @ matrix
        new_h, new_c = [], []
        for k in range(num_layers):
            hk, ck = lstm_cell(gates[:, k * gates_width:(k + 1) * gates_width], c[:, k * width:(k + 1) * width])
            started = t >= k
            new_h.append(jnp.where(started, hk, h[:, k * width:(k + 1) * width]))
            new_c.append(jnp.where(started, ck, c[:, k * width:(k + 1) * width]))
        h, c = jnp.concatenate(new_h, axis=-1), jnp.concatenate(new_c, axis=-1)
        return (h, c), new_h[-1]

    zeros = jnp.zeros((batch, num_layers * width), dtype)
    _, ys = jax.lax.scan(step, (zeros, zeros), (jnp.arange(steps), jnp.swapaxes(inputs, 0, 1)))
    return jnp.swapaxes(ys[num_layers - 1:], 0, 1) + x


def cudnn_weights(params: dict, num_layers: int) -> jax.Array:
    """The layers' tensors flat in cuDNN's order, as `jax.experimental.rnn` takes them (float32): every
    layer's input then recurrent matrix (PyTorch's `(4H, H)` layout), then every layer's two biases."""
    matrices = [params[f"layer_{k}_kernel_{kind}"].T.ravel() for k in range(num_layers) for kind in ("ih", "hh")]
    biases = [params[f"layer_{k}_bias_{kind}"] for k in range(num_layers) for kind in ("ih", "hh")]
    return jnp.concatenate(matrices + biases).astype(jnp.float32)


def cudnn(params: dict, x: jax.Array, num_layers: int, dtype) -> jax.Array:
    """`ResLSTM(num_layers)` of `x` through cuDNN (a GPU only), computed in float32, returned in `dtype`."""
    from jax.experimental import rnn

    x32 = x.astype(dtype).astype(jnp.float32)
    batch, frames, width = x.shape
    zeros = jnp.zeros((num_layers, batch, width), jnp.float32)
    y, _, _ = rnn.lstm(x32, zeros, zeros, cudnn_weights(params, num_layers), jnp.full((batch,), frames, jnp.int32),
                       input_size=width, hidden_size=width, num_layers=num_layers, dropout=0.0, bidirectional=False)
    return (y + x32).astype(dtype)


def way(name: str, num_layers: int, dtype) -> Callable[[dict, jax.Array], jax.Array]:
    """The function `(params, x) -> ResLSTM output` that computes the LSTM the way `name` says."""
    if name in ("scan", "unroll8"):
        module = ResLSTM(num_layers, dtype, unroll=8 if name == "unroll8" else 1)
        return lambda params, x: module.apply({"params": params}, x)
    if name == "wavefront":
        return lambda params, x: wavefront(params, x, num_layers, dtype)
    return lambda params, x: cudnn(params, x, num_layers, dtype)


def unavailable(name: str) -> str | None:
    """Why the way `name` cannot run on this machine, or None."""
    if name == "cudnn" and jax.default_backend() != "gpu":
        return f"cuDNN needs a GPU (backend: {jax.default_backend()})"
    return None


def lstm_shape(variant: str, seconds: float) -> tuple[int, int, int]:
    """(width, layers, frames of `seconds`) of the model's LSTMs: the encoder's, which the released decoder's equals."""
    config = model_config(variant)
    enc = config.encoder
    return enc.ngf * 2 ** len(enc.up_ratios), enc.rnn_num_layers, math.ceil(seconds * SAMPLE_RATE / hop_length(config))


def measure(name: str, params: dict, x: jax.Array, num_layers: int, dtype: str, repeats: int,
            reference: np.ndarray | None) -> tuple[dict, np.ndarray]:
    """(timings, output) of one way; the timings include its largest difference from `reference` (the
    scan's output) relative to the reference's peak."""
    jitted = jax.jit(way(name, num_layers, jnp.dtype(dtype)), compiler_options=compiler_options())  # as the passes
    compiled, compile_s = compile_timed(jitted, params, x)
    _, call_s, out = time_calls(lambda: jax.block_until_ready(compiled(params, x)), repeats)
    out = np.asarray(out, np.float32)
    row = {"call_s": call_s, "compile_s": compile_s, "us_per_frame": call_s / x.shape[1] * 1e6}
    if reference is not None:
        row["max_diff"] = float(np.max(np.abs(out - reference)) / max(float(np.max(np.abs(reference))), 1e-30))
    return row, out


def run(args: argparse.Namespace) -> None:
    end = time.monotonic() + args.budget_seconds
    width, num_layers, frames = lstm_shape(args.variant, args.seconds)
    print(f"{device_line()}\nLSTM of {args.variant}: {num_layers} layers x {width} units, {frames} frames "
          f"({args.seconds:g} s); budget {args.budget_seconds:.0f} s")
    print(f"{'dtype':9s} {'batch':>5s} {'way':10s} {'ms/call':>9s} {'us/frame':>9s} {'compile s':>9s} "
          f"{'max diff':>9s}")
    params = ResLSTM(num_layers).init(jax.random.PRNGKey(0), jnp.zeros((1, 2, width)))["params"]
    rows: list[dict] = []
    report = {"machine": machine(), "variant": args.variant, "width": width, "layers": num_layers,
              "frames": frames, "rows": rows}
    inputs: dict[int, jax.Array] = {}  # by batch size, the same for every dtype and way
    references: dict[tuple[str, int], np.ndarray] = {}  # the scan's outputs, by (dtype, batch)
    for name in args.ways:  # each way at every shape: the scan's figures come first, cuDNN's last
        for dtype in args.dtypes:
            for batch in args.batch_sizes:
                row = {"dtype": dtype, "batch": batch, "way": name, "status": "ok"}
                reason = unavailable(name) or _over_budget(rows, name, batch, end)
                if reason:
                    row.update(status="skipped", reason=reason)
                else:
                    if batch not in inputs:
                        noise = np.random.default_rng(batch).normal(0, 0.5, (batch, frames, width))
                        inputs[batch] = jax.device_put(noise.astype(np.float32))
                    try:
                        measured, out = measure(name, params, inputs[batch], num_layers, dtype, args.repeats,
                                                references.get((dtype, batch)))
                        row.update(measured)
                        if name == "scan":
                            references[(dtype, batch)] = out
                    except Exception as error:  # noqa: BLE001 - recorded, and the next one tried
                        row.update(status="failed", reason=f"{type(error).__name__}: {str(error)[-500:]}")
                rows.append(row)
                _print(row)
                if args.output:
                    staged.write_text(args.output, json.dumps(report, indent=1))  # whole or not at all


def _over_budget(rows: list[dict], name: str, batch: int, end: float) -> str | None:
    """Why a measurement of `name` at `batch` would not fit the time left (None when it would), from the
    same way's last measurement (its time scaled by the batch) or the slowest compile so far."""
    left = end - time.monotonic()
    done = [r for r in rows if r["status"] == "ok"]
    same = [r for r in done if r["way"] == name]
    if same:
        estimate = same[-1]["compile_s"] + 6 * same[-1]["call_s"] * max(1.0, batch / same[-1]["batch"])
    else:
        estimate = max([r["compile_s"] for r in done], default=COMPILE_PRIOR_S)
    if estimate > left:
        return f"estimated {estimate:.0f} s does not fit the {max(left, 0):.0f} s left"
    return None


def _print(row: dict) -> None:
    head = f"{row['dtype']:9s} {row['batch']:5d} {row['way']:10s}"
    if row["status"] != "ok":
        print(f"{head} {row['status']}: {row['reason']}", flush=True)
        return
    diff = f"{row['max_diff']:9.1e}" if "max_diff" in row else f"{'':9s}"
    print(f"{head} {row['call_s'] * 1e3:9.2f} {row['us_per_frame']:9.1f} {row['compile_s']:9.1f} {diff}", flush=True)
