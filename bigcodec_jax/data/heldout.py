"""The fixed evaluation split: the first `max_utterances` readable utterances, whole, batched by length."""
from __future__ import annotations

import dataclasses
import logging

import ml_collections
import numpy as np

from bigcodec_jax.data.config import validate
from bigcodec_jax.data.corpus import HELDOUT_LIST
from bigcodec_jax.data.sources import open_source

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class EvalBatch:
    """Utterances of similar length: `wav` is float32 16 kHz (B, longest), zero-padded after each `lengths[i]`."""

    names: tuple[str, ...]
    wav: np.ndarray
    lengths: np.ndarray


def eval_utterances(cfg: ml_collections.ConfigDict) -> list[EvalBatch]:
    """The evaluation utterances `cfg.eval` names (same set on every call), shortest batch first.

    Unreadable utterances are logged by name and skipped; ValueError for config mistakes.
    """
    validate(cfg)
    ev = cfg.eval
    source = open_source(ev.source, ev.path, ev.split, cfg.tfds_data_dir, HELDOUT_LIST, "data.eval")
    utterances = []
    for index in range(len(source)):
        if len(utterances) == ev.max_utterances:
            break
        try:
            utterances.append((source.name(index), source.read(index)))
        except ValueError as e:
            logger.warning("data.eval: skipping unreadable utterance %s: %s", source.name(index), e)
    if not utterances:
        raise ValueError(f"data.eval: no readable utterance in {ev.source!r} {ev.path or ev.split!r}")
    utterances.sort(key=lambda item: len(item[1]))
    return [_pad_batch(utterances[i:i + ev.batch_size]) for i in range(0, len(utterances), ev.batch_size)]


def _pad_batch(utterances: list[tuple[str, np.ndarray]]) -> EvalBatch:
    lengths = np.array([len(wav) for _, wav in utterances], np.int32)
    wav = np.zeros((len(utterances), lengths.max()), np.float32)
    for row, (_, samples) in enumerate(utterances):
        wav[row, :len(samples)] = samples
    return EvalBatch(tuple(name for name, _ in utterances), wav, lengths)
