"""Where the time goes: per-kernel time of one encode and one decode call, grouped by layer kind.

Runs the jitted encode and decode once under the JAX profiler (XLA CPU emits one trace event per
executed kernel when `--xla_cpu_enable_xprof_traceme` is set, which this command does; on a GPU
the device's kernels are traced with the HLO instruction each runs) and maps every kernel back
to the layer that produced it through the `op_name` metadata of the compiled HLO. Prints each
call's unprofiled time, the time per layer kind (activation, dilated convolution, 1x1
convolution, strided and transposed convolutions, LSTM, quantiser, other) and the slowest
kernels; on an accelerator also the share of the call the device was busy (the rest: waiting
for kernel launches, as in a loop of small steps).
"""
from __future__ import annotations

import argparse
import bisect
import collections
import functools
import glob
import gzip
import json
import os
import re
import tempfile

from bigcodec_jax import errors
from bigcodec_jax.audio import SAMPLE_RATE
from bigcodec_jax.benchmark.common import time_calls
from bigcodec_jax.codec.config import VARIANTS


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--variant", default="full", choices=VARIANTS,
                   help="model variant (default: the released full size)")
    p.add_argument("--batch-size", type=errors.positive_int, default=2)
    p.add_argument("--seconds", type=errors.positive_seconds, default=4.0, help="clip length")
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    p.add_argument("--top", type=errors.positive_int, default=15, help="slowest kernels listed")


# (regular expression on the last module names of an op's path, layer kind); first match wins.
_KINDS = (
    (r"/act(_\d|_out)?/", "activation (anti-aliased SnakeBeta)"),
    (r"/conv_t/", "transposed convolution"),
    (r"/res_\d/conv_1/", "dilated 7-tap convolution"),
    (r"/res_\d/conv_2/", "1x1 convolution"),
    (r"/block_\d/conv/", "strided convolution"),
    (r"/conv_(in|out)/", "input/output convolution"),
    (r"/lstm", "LSTM"),
    (r"quantiz|embed", "quantiser / embedding"),
)


def layer_kind(op_name: str) -> str:
    """The layer kind of an HLO instruction from its `op_name` metadata (JAX's name stack)."""
    for pattern, kind in _KINDS:
        if re.search(pattern, op_name + "/"):
            return kind
    return "other (copies, layout, glue)"


def kernel_times(fn, folder: str) -> collections.Counter:
    """Microseconds charged to each kernel (HLO instruction) while running `fn()` once under the profiler."""
    import jax

    jax.profiler.start_trace(folder, create_perfetto_trace=True)
    fn()
    jax.profiler.stop_trace()
    path = sorted(glob.glob(os.path.join(folder, "**", "*.trace.json.gz"), recursive=True))[-1]
    with gzip.open(path) as f:
        trace = json.load(f)
    return charged_times(trace["traceEvents"] if isinstance(trace, dict) else trace)


def _device_pids(events: list[dict]) -> set:
    """The trace's accelerator processes (`/device:GPU:0`, `/device:TPU:0`, ...), from its metadata events."""
    return {e["pid"] for e in events if e.get("ph") == "M" and e.get("name") == "process_name"
            and re.match(r"/device:(?!CPU)", str(e.get("args", {}).get("name", "")))}


def charged_times(events: list[dict]) -> collections.Counter:
    """Microseconds charged to each HLO instruction from a trace's events.

    On an accelerator: its kernels (events of the device's processes), each under the instruction
    it runs (`args.hlo_op`, the innermost of a nested stack such as a loop body's
    `while.1::fusion.3`; the event's own name is the CUDA kernel's); time between kernels (the
    device idle, waiting for launches) is charged to nothing. On a CPU: XLA's runtime traces a
    kernel from its launch to an `end: NAME` event when it completes asynchronously (convolutions
    and dots run on the thread pool; `_completion` says when that event is late), and the charges
    add up to the call's wall time. Either way each moment is shared equally among the kernels
    running then, and a loop (`while`, the LSTM) is charged only the moments when none of its
    body's kernels runs.
    """
    devices = _device_pids(events)
    starts, ends = collections.defaultdict(list), collections.defaultdict(list)
    launches = collections.defaultdict(list)  # thread -> start times of the kernels it ran
    for event in events:
        if event.get("ph") != "X" or (devices and event.get("pid") not in devices):
            continue
        op = event.get("args", {}).get("hlo_op")
        if op:  # a device kernel's may be a nested annotation stack, "outer::inner": the kernel's own is the last
            name = op.split("::")[-1] if devices else event["name"]
            starts[name].append((event["ts"], event["ts"] + event.get("dur", 0)))
            launches[event.get("tid")].append(event["ts"])
        elif event["name"].startswith("end: "):
            ends[event["name"][5:]].append((event["ts"], event.get("tid")))
    for times in launches.values():
        times.sort()
    boundaries = []  # (time, +1 start / -1 stop, kernel)
    for name, spans in starts.items():
        done = sorted(ends.get(name, []), key=lambda end: end[0])  # (time, thread)
        for i, (start, stop) in enumerate(sorted(spans)):
            if i < len(done):
                stop = max(stop, _completion(start, *done[i], launches))
            boundaries += [(start, 1, name), (stop, -1, name)]
    boundaries.sort(key=lambda b: (b[0], b[1]))
    times: collections.Counter = collections.Counter()
    active: collections.Counter = collections.Counter()
    previous = None
    for moment, change, name in boundaries:
        if previous is not None and moment > previous and active:
            inner = [n for n in active if not n.startswith("while")] or list(active)
            for n in inner:
                times[n] += (moment - previous) / len(inner)
        previous = moment
        active[name] += change
        if active[name] <= 0:
            del active[name]
    return times


def _completion(start: float, end: float, thread, launches: dict) -> float:
    """When a CPU kernel started at `start` completed, from its `end:` event (at `end`, on `thread`).

    The runtime writes that event when the completing thread leaves the kernel's completion
    callback, which first runs the successors that became ready, inline (a whole LSTM loop after
    the copy of its inputs): the kernel had completed by the first kernel that thread started
    after `start`.
    """
    if thread is None:  # an event without its thread: nothing to bound it by
        return end
    later = launches.get(thread, [])
    first = bisect.bisect_right(later, start)
    return min(end, later[first]) if first < len(later) else end


def instruction_layers(hlo_text: str) -> dict[str, str]:
    """Every HLO instruction's name -> its `op_name` metadata (the JAX name stack of its layer).

    Instructions without metadata (the body of the LSTM's loop, copies) take the first `op_name`
    found in their computation, so the loop body is charged to the LSTM.
    """
    names = {}
    for body in re.split(r"\n(?=\S)", hlo_text):  # one computation per unindented block
        found = re.findall(r'op_name="([^"]*)"', body)
        default = found[0] if found else ""
        for match in re.finditer(r"^\s*(?:ROOT )?%?([\w.-]+) = [^\n]*", body, flags=re.M):
            op = re.search(r'op_name="([^"]*)"', match.group(0))
            names[match.group(1)] = op.group(1) if op else default
    return names


def profile(compiled, call, folder: str) -> tuple[dict[str, float], list[tuple[float, str, str]], float]:
    """(seconds per layer kind, [(seconds, kernel, op_name)] slowest first, total kernel seconds)."""
    names = instruction_layers(compiled.as_text())
    times = kernel_times(call, folder)
    kinds: dict[str, float] = collections.defaultdict(float)
    kernels = []
    for name, micros in times.items():
        name = name if name in names else name.split(".")[0]
        kinds[layer_kind(names.get(name, ''))] += micros / 1e6
        kernels.append((micros / 1e6, name, names.get(name, '')))
    kernels.sort(reverse=True)
    return dict(kinds), kernels, sum(kinds.values())


def summary(compiled, call, wall_s: float, top: int = 10) -> dict:
    """Where one call's time goes, as JSON: `wall_s` (its unprofiled time, measured by the caller),
    `kernels_s` (charged to kernels), `device_busy` (on an accelerator: kernels_s / wall_s, the rest
    waiting for launches; None on CPU), `kinds` (seconds per layer kind) and the `top` slowest kernels
    as [seconds, kernel, the end of its layer path]."""
    import jax

    with tempfile.TemporaryDirectory(prefix="bigcodec-profile-") as folder:
        kinds, kernels, total = profile(compiled, call, folder)
    if total <= 0:  # every share below divides by it
        raise ValueError("the trace has no kernel events (no per-kernel tracing on this backend?)")
    return {"wall_s": wall_s, "kernels_s": total,
            "device_busy": None if jax.default_backend() == "cpu" else min(total / wall_s, 1.0),
            "kinds": dict(sorted(kinds.items(), key=lambda kv: -kv[1])),
            "top": [[seconds, name, op_name.split("/", 2)[-1][-80:]] for seconds, name, op_name in kernels[:top]]}


def enable_cpu_kernel_traces(env: dict) -> dict:
    """`env` with XLA's per-kernel trace events on CPU switched on (read when JAX starts; no cost untraced)."""
    return {**env, "XLA_FLAGS": (env.get("XLA_FLAGS", "") + " --xla_cpu_enable_xprof_traceme=true").strip()}


def format_summary(what: str, s: dict) -> str:
    """A few lines: the call's time, the device's busy share, the time per layer kind, the slowest kernels."""
    lines = [f"{what}: {s['wall_s']:.3f} s a call (unprofiled); kernels charged {s['kernels_s']:.3f} s"
             + ("" if s["device_busy"] is None else f", the device busy {s['device_busy']:.0%} of the call"),
             f"  {'layer kind':40s} {'seconds':>8s} {'share':>6s}"]
    lines += [f"  {kind:40s} {seconds:8.3f} {seconds / s['kernels_s']:6.1%}" for kind, seconds in s["kinds"].items()]
    lines.append("  slowest kernels:")
    lines += [f"  {seconds:8.4f} s  {name:34s} {path}" for seconds, name, path in s["top"]]
    return "\n".join(lines)


def call_once(compiled, params, inputs) -> None:
    """One call of a compiled codec pass (`(params, inputs, valid lengths)`), waited for."""
    import jax

    jax.block_until_ready(compiled(params, inputs, None))


def run(args: argparse.Namespace) -> None:
    os.environ.update(enable_cpu_kernel_traces(os.environ))
    import jax
    import numpy as np

    from bigcodec_jax import BigCodec
    from bigcodec_jax.benchmark.common import device_line

    codec = BigCodec.random(args.variant, dtype=args.dtype)
    wav = np.random.default_rng(0).uniform(-0.5, 0.5, (args.batch_size, int(args.seconds * SAMPLE_RATE)))
    wav = wav.astype(np.float32)
    codes = codec.encode(wav)
    print(f"{device_line()}, model: {args.variant} {args.dtype}, batch {args.batch_size} x {args.seconds:g} s")
    calls = {}
    for what, function, inputs in (("encode", codec.passes.encode.whole, wav),
                                   ("decode", codec.passes.decode.whole, codes)):
        compiled = function.lower(codec.params, inputs, None).compile()
        jax.block_until_ready(compiled(codec.params, inputs, None))
        calls[what] = compiled, functools.partial(call_once, compiled, codec.params, inputs)
    for what, (compiled, call) in calls.items():
        wall = time_calls(call, 3)[1]
        print("\n" + format_summary(what, summary(compiled, call, wall, args.top)))
