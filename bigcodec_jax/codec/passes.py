"""The jitted device functions that run the codec, built once per (frozen model config, dtype, window).

Each direction (encode: audio -> codes, decode: codes -> audio) runs a right-padded batch either
whole, with per-example valid lengths, or, when it is longer than the window, chunk by chunk
(`chunking.run_chunked`) in memory that does not grow with its length; both give every example
its exact result. The functions take the parameters as an argument, so every codec with the
same config and dtype shares them and their compiled shapes (`jax.jit(...)._cache_size()`
counts those). float32 runs at full matmul precision (no TF32 / bf16 passes on GPU and TPU).
On CPU they compile with LLVM's lighter optimisation level (`compiler_options`).
"""
from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple

import jax
import ml_collections
import numpy as np

from bigcodec_jax.codec.chunking import ChunkPlan, run_chunked
from bigcodec_jax.codec.model import DTYPES, BigCodecModel
from bigcodec_jax.codec.receptive_field import contexts
from bigcodec_jax.codec.config import hop_length


# XLA's CPU backend optimises the kernels it generates with LLVM; at level 1 instead of its default, the
# codec's passes compile faster and run as fast, with bit-identical results (measured in docs/benchmarks.md,
# "Compile time"): most of their time is convolutions, which XLA does not generate, so LLVM's further
# optimisation has little to improve.
CPU_COMPILER_OPTIONS = {"xla_backend_optimization_level": 1}


def compiler_options() -> dict | None:
    """The XLA options the codec's jitted passes compile with on this process's default backend."""
    return dict(CPU_COMPILER_OPTIONS) if jax.default_backend() == "cpu" else None


class Pass(NamedTuple):
    """The jitted functions of one direction and its geometry."""

    whole: jax.stages.Wrapped  # (params, inputs, valid lengths at the input rate or None) -> outputs
    chunk: jax.stages.Wrapped  # one chunk, see `BigCodecModel.encode_chunk` and `chunking.run_chunked`
    plan: ChunkPlan
    rate_in: int   # input steps per frame (the hop for audio, 1 for codes)
    rate_out: int  # output steps per frame

    def run(self, params: Any, inputs: np.ndarray, frames: np.ndarray | None, put: Callable = jax.device_put
            ) -> np.ndarray:
        """Outputs of a right-padded host batch `inputs` (time last, a multiple of `rate_in`).

        `frames` `(B,)`: valid frames of each example (None: all of them). Batches longer than the
        window run chunked; `put` moves host arrays to the devices (the batch axis first).
        """
        return np.asarray(self.start(params, inputs, frames, put))

    def start(self, params: Any, inputs: np.ndarray | jax.Array, frames: np.ndarray | None,
              put: Callable = jax.device_put) -> np.ndarray | jax.Array:
        """`run` without waiting for a whole batch: its outputs are device arrays still being computed (JAX
        dispatches asynchronously), so the host can prepare the next batch meanwhile. `inputs` may already be
        on the devices (another pass's outputs). Chunked batches run to their end here, on the host's loop."""
        total = inputs.shape[-1] // self.rate_in
        if total <= self.plan.window:
            lengths = None if frames is None else put(np.asarray(frames * self.rate_in, np.int32))
            return self.whole(params, put(inputs), lengths)
        frames = np.full(inputs.shape[0], total, np.int32) if frames is None else frames
        return run_chunked(functools.partial(self.chunk, params), self.plan, np.asarray(inputs), frames,
                           self.rate_in, self.rate_out, put)


class Passes(NamedTuple):
    encode: Pass  # wav (B, T), samples (B,) -> codes (B, n_q, T / hop)
    decode: Pass  # codes (B, n_q, F), frames (B,) -> wav (B, F * hop)


def shortest_window(config: ml_collections.FrozenConfigDict) -> int:
    """The shortest chunk window in frames with exact results in both directions (`ChunkPlan.shortest_window`
    of the encoder's and the decoder's contexts): the one minimum that `passes_for` enforces and the API states."""
    return max(ChunkPlan.shortest_window(*network) for network in contexts(config))


@functools.lru_cache(maxsize=None)
def passes_for(config: ml_collections.FrozenConfigDict, dtype: str, window: int) -> Passes:
    """The shared jitted functions of a frozen model config and compute dtype, with a window in frames (at least
    `shortest_window(config)`; ValueError otherwise)."""
    if window < shortest_window(config):
        raise ValueError(f"the chunk window ({window} frames) must be at least {shortest_window(config)} frames "
                         "for this model's receptive field")
    model = BigCodecModel(config, DTYPES[dtype])
    precision = "highest" if dtype == "float32" else "default"
    encoder, decoder = contexts(config)
    encode_plan, decode_plan = ChunkPlan(window, *encoder), ChunkPlan(window, *decoder)

    def jitted(method, **static) -> jax.stages.Wrapped:
        method = functools.partial(method, **static) if static else method

        def codec_pass(params, *args):  # its name is the compiled program's: jit(codec_pass)
            with jax.default_matmul_precision(precision):
                return model.apply({"params": params}, *args, method=method)

        return jax.jit(codec_pass, compiler_options=compiler_options())

    hop = hop_length(config)
    return Passes(
        Pass(jitted(BigCodecModel.encode_codes), jitted(BigCodecModel.encode_chunk, plan=encode_plan),
             encode_plan, hop, 1),
        Pass(jitted(BigCodecModel.decode_codes), jitted(BigCodecModel.decode_chunk, plan=decode_plan),
             decode_plan, 1, hop))
