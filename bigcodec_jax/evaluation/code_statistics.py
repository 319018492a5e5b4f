"""Statistics of the codes over a whole evaluation set: codebook usage, perplexity and the bitrate."""
from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from bigcodec_jax.audio import SAMPLE_RATE


def bitrate(codebook_size: int, num_quantizers: int, hop_length: int) -> float:
    """Bits per second: `log2(codebook_size) * quantisers * frames per second` (1040 for the released codec)."""
    return math.log2(codebook_size) * num_quantizers * SAMPLE_RATE / hop_length

CODE_DEFINITIONS = {
    "codebook_usage": "the fraction of each codebook's entries used at least once over the whole set, averaged "
                      "over quantisers; higher is better (unused entries are wasted bits).",
    "code_perplexity": "exp(entropy) of each quantiser's code histogram over the whole set, averaged over "
                       "quantisers: the number of equally used codes it amounts to, at most the codebook size; "
                       "higher is better.",
    "bitrate": "bits per second of the codes: log2(codebook size) x quantisers x frames per second.",
}


def code_histograms(codes: jax.Array, codebook_size: int) -> jax.Array:
    """`(n_q, codebook_size)` counts of each quantiser's codes in `codes` `(..., n_q, frames)` (jittable)."""
    per_quantizer = jnp.moveaxis(jnp.asarray(codes), -2, 0).reshape(codes.shape[-2], -1)
    return jax.vmap(lambda c: jnp.bincount(c, length=codebook_size))(per_quantizer)


def histogram_statistics(counts: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Per quantiser (rows of `counts`): the fraction of codebook entries used at least once, and the
    perplexity `exp(entropy)` of the code distribution (the codebook size when all are used equally).
    The one definition behind the training logs and the evaluation reports (jittable)."""
    counts = jnp.asarray(counts, jnp.float32)
    p = counts / jnp.maximum(counts.sum(axis=-1, keepdims=True), 1.0)
    entropy = -jnp.sum(jnp.where(p > 0, p * jnp.log(jnp.where(p > 0, p, 1.0)), 0.0), axis=-1)
    return jnp.mean(counts > 0, axis=-1), jnp.exp(entropy)


@dataclasses.dataclass(frozen=True)
class CodeStatistics:
    """Per quantiser: the fraction of codebook entries used at least once and the perplexity
    `exp(entropy)` of the code histogram (= codebook size when all are used equally); `usage` and
    `perplexity` average them over quantisers."""

    usage: float
    perplexity: float
    usage_per_quantizer: tuple[float, ...]
    perplexity_per_quantizer: tuple[float, ...]
    frames: int
    bitrate: float


class CodeCounter:
    """Histograms of the codes of each quantiser, added utterance by utterance."""

    def __init__(self, num_quantizers: int, codebook_size: int, hop_length: int):
        self.codebook_size, self.hop_length = codebook_size, hop_length
        self.counts = np.zeros((num_quantizers, codebook_size), np.int64)

    def add(self, codes: np.ndarray) -> None:
        """Count one utterance's codes `(n_q, frames)`."""
        for q, row in enumerate(codes):
            self.counts[q] += np.bincount(row, minlength=self.codebook_size)

    def statistics(self) -> CodeStatistics:
        frames = int(self.counts[0].sum())
        usage, perplexity = (tuple(float(v) for v in values) for values in histogram_statistics(self.counts))
        return CodeStatistics(float(np.mean(usage)), float(np.mean(perplexity)), usage, perplexity, frames,
                              bitrate(self.codebook_size, len(self.counts), self.hop_length))
