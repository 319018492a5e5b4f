"""`evaluate`: reconstruct evaluation utterances with a codec of any family and measure each against its input.

Every metric compares like with like at the input's 16 kHz: a codec that decodes at another rate
(NeuCodec, 24 kHz) has its output resampled to 16 kHz (`audio.resample`, band-limited) before it is
measured, and the decoder's own output is what the report's examples play (`Example.listening`).
"""
from __future__ import annotations

from typing import Any, Sequence

import jax
import numpy as np
import tqdm

from bigcodec_jax import audio
from bigcodec_jax.data import EvalBatch
from bigcodec_jax.evaluation.code_statistics import CodeCounter
from bigcodec_jax.evaluation.metrics import FAST_METRICS, check_names, measure
from bigcodec_jax.evaluation.report import Example, Report, UtteranceResult
from bigcodec_jax.family_api import Codec, bits_per_second
from bigcodec_jax.inference.batch_codec import BatchCodec


def model_info(codec: Codec) -> dict[str, Any]:
    """What the report says about the codec: its family, rates, code layout and size."""
    return {
        "family": codec.family,
        "parameters": int(sum(np.size(p) for p in jax.tree.leaves(codec.params))),
        "num_quantizers": codec.num_quantizers,
        "codebook_size": codec.codebook_size,
        "hop_length": codec.hop_length,
        "sample_rate": codec.sample_rate,
        "output_sample_rate": codec.output_sample_rate,
        "frames_per_second": codec.frame_rate,
        "bitrate": bits_per_second(codec),
        "dtype": codec.dtype,
    }


def output_length(samples: int, output_sample_rate: int) -> int:
    """Samples at the output rate of `samples` input samples at 16 kHz (the listening audio's length)."""
    return -(-samples * output_sample_rate // audio.SAMPLE_RATE)


def measured(decoded: np.ndarray, samples: int, output_sample_rate: int) -> np.ndarray:
    """The decoder's output `decoded` at `output_sample_rate` as the 16 kHz signal measured against an input of
    `samples` samples: resampled, then cut or zero-padded to the input's length (a codec whose frames stop short
    of the input's end, as NeuCodec's `samples // 320`, loses that tail, and the metrics count it)."""
    wav = audio.resample(decoded, output_sample_rate)[:samples]
    return np.pad(wav, (0, samples - len(wav)))


def _reconstruct(codec: Codec, batch_codec: BatchCodec, wavs: list[np.ndarray]
                 ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The codes `(n_q, frames)` of 16 kHz clips and their decoded audio at the codec's output rate, as long as
    the input (`output_length`) or, where the codes stop short of it, as long as the codes."""
    codes = batch_codec.encode_batch(wavs)
    hop = round(codec.output_sample_rate / codec.frame_rate)  # output samples a frame
    lengths = [min(output_length(len(w), codec.output_sample_rate), c.shape[-1] * hop) for w, c in zip(wavs, codes)]
    return codes, batch_codec.decode_batch(codes, lengths)


def evaluate(codec: Codec, batches: Sequence[EvalBatch], metrics: Sequence[str] = FAST_METRICS,
             examples: int = 0, progress: bool = False) -> Report:
    """Encode and decode every utterance of `batches` (from `data.eval_utterances`), each exactly as if alone,
    and measure `metrics` (names of `metrics.METRICS`) at 16 kHz; the first `examples` utterances are kept whole."""
    metrics = check_names(metrics)
    if not batches:
        raise ValueError("no evaluation utterances")
    batch_codec = BatchCodec(codec, batch_size=max(len(b.names) for b in batches))
    counter = CodeCounter(codec.num_quantizers, codec.codebook_size, codec.hop_length)
    rate = codec.output_sample_rate
    results, kept = [], []
    with tqdm.tqdm(total=sum(len(b.names) for b in batches), desc="evaluate", unit="utt", disable=not progress,
                   dynamic_ncols=True) as bar:
        for batch in batches:
            wavs = [batch.wav[row, :n] for row, n in enumerate(batch.lengths)]
            # One padded batch per EvalBatch (already grouped by length): two compilations per batch shape, where
            # re-bucketing each utterance compiled up to two per utterance.
            codes, decoded = _reconstruct(codec, batch_codec, wavs)
            for name, wav, c, out in zip(batch.names, wavs, codes, decoded):
                counter.add(c)
                recon = measured(out, len(wav), rate)
                values, missing = measure(wav, recon, metrics)
                results.append(UtteranceResult(name, len(wav), c.shape[-1], values, missing))
                if len(kept) < examples:
                    listening = None if rate == audio.SAMPLE_RATE else out
                    kept.append(Example(name, wav, recon, listening, rate))
                bar.update(1)
    return Report(metrics, results, counter.statistics(), model_info(codec), kept)
