"""`evaluate`: reconstruct evaluation utterances with a codec and measure each one against its input."""
from __future__ import annotations

from typing import Any, Sequence

import jax
import numpy as np
import tqdm

from bigcodec_jax.api import BigCodec
from bigcodec_jax.audio import SAMPLE_RATE
from bigcodec_jax.data import EvalBatch
from bigcodec_jax.evaluation.code_statistics import CodeCounter, bitrate
from bigcodec_jax.evaluation.metrics import FAST_METRICS, check_names, measure
from bigcodec_jax.evaluation.report import Example, Report, UtteranceResult
from bigcodec_jax.inference.batch_codec import BatchCodec


def model_info(codec: BigCodec) -> dict[str, Any]:
    """What the report says about the codec."""
    return {
        "parameters": int(sum(np.size(p) for p in jax.tree.leaves(codec.params))),
        "num_quantizers": codec.num_quantizers,
        "codebook_size": codec.codebook_size,
        "hop_length": codec.hop_length,
        "frames_per_second": SAMPLE_RATE / codec.hop_length,
        "bitrate": bitrate(codec.codebook_size, codec.num_quantizers, codec.hop_length),
        "dtype": codec.dtype,
    }


def evaluate(codec: BigCodec, batches: Sequence[EvalBatch], metrics: Sequence[str] = FAST_METRICS,
             examples: int = 0, progress: bool = False) -> Report:
    """Encode and decode every utterance of `batches` (from `data.eval_utterances`), each exactly as if alone,
    and measure `metrics` (names of `metrics.METRICS`); the first `examples` utterances are kept whole."""
    metrics = check_names(metrics)
    if not batches:
        raise ValueError("no evaluation utterances")
    batch_codec = BatchCodec(codec, batch_size=max(len(b.names) for b in batches))
    counter = CodeCounter(codec.num_quantizers, codec.codebook_size, codec.hop_length)
    results, kept = [], []
    with tqdm.tqdm(total=sum(len(b.names) for b in batches), desc="evaluate", unit="utt", disable=not progress,
                   dynamic_ncols=True) as bar:
        for batch in batches:
            wavs = [batch.wav[row, :n] for row, n in enumerate(batch.lengths)]
            # One padded batch per EvalBatch (already grouped by length): two compilations per batch shape, where
            # re-bucketing each utterance compiled up to two per utterance.
            codes = batch_codec.encode_batch(wavs)
            recons = batch_codec.decode_batch(codes, [len(w) for w in wavs])
            for name, wav, c, recon in zip(batch.names, wavs, codes, recons):
                counter.add(c)
                values, missing = measure(wav, recon, metrics)
                results.append(UtteranceResult(name, len(wav), c.shape[-1], values, missing))
                if len(kept) < examples:
                    kept.append(Example(name, wav, recon))
                bar.update(1)
    return Report(metrics, results, counter.statistics(), model_info(codec), kept)
