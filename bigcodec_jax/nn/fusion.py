"""`materialised`: compute a function's outputs once, in memory, where XLA would recompute them in every consumer.

XLA's CPU backend fuses a cheap elementwise producer into each consumer that reads it, copying the producer's
code into the consumer's loop. A consumer that reads every value several times (a k-tap filter reads each k
times) then recomputes the producer k times per output. For the anti-aliased activation that was most of its
time: its downsampler (12 taps) recomputed the upsampler's taps and SnakeBeta for each tap read, about 6x the
work (`docs/benchmarks.md`, "The activation's fusion").

`jax.lax.optimization_barrier` does not help there: the CPU compiler removes it before fusion. A conditional is a
boundary that fusion does not cross, so `materialised` runs `fn` as both branches of one; which branch runs does
not matter, and the values are bit-identical to the fused program's (the same operations in the same order).

A gather fused into a large elementwise loop is the other case: the loop then evaluates the gather for every
element, without vectors, which made the activation's per-example edge values (one frame of each example) cost
more than the activation itself at batch 1. Computed apart, they are a few values.
"""
from __future__ import annotations

from typing import Any, Callable

import jax


def materialised(fn: Callable[..., Any], *args: jax.Array, key: jax.Array) -> Any:
    """`fn(*args)`, its outputs written to memory once rather than fused into (and recomputed by) their readers.

    `key`: a small array that every device holds whole (a parameter vector), so that no value crosses devices
    for the conditional's predicate, which its first element sets; both branches are `fn`, so the predicate's
    value does not matter.
    """
    element = key.reshape(-1)[0]
    return jax.lax.cond(element == element, fn, fn, *args)
