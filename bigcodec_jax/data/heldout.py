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


@dataclasses.dataclass(frozen=True)
class EvalSet:
    """The readable utterances in `batches` (shortest batch first; empty when none could be read) and the
    unreadable ones, `{name: reason}` in source order, so that a report can name and count them."""

    batches: list[EvalBatch]
    unreadable: dict[str, str]


def read_eval_set(cfg: ml_collections.ConfigDict) -> EvalSet:
    """The evaluation utterances `cfg.eval` names (same set on every call): up to `max_utterances` readable ones
    (the unreadable do not count towards it), each unreadable one logged and kept with its reason.

    ValueError for config mistakes and for a source that holds no utterances.
    """
    validate(cfg)
    ev = cfg.eval
    source = open_source(ev.source, ev.path, ev.split, cfg.tfds_data_dir, HELDOUT_LIST, "data.eval")
    utterances, unreadable = [], {}
    for index in range(len(source)):
        if len(utterances) == ev.max_utterances:
            break
        try:
            utterances.append((source.name(index), source.read(index)))
        except ValueError as e:
            logger.warning("data.eval: skipping unreadable utterance %s: %s", source.name(index), e)
            unreadable[source.name(index)] = " ".join(str(e).split())
    utterances.sort(key=lambda item: len(item[1]))
    return EvalSet([_pad_batch(utterances[i:i + ev.batch_size]) for i in range(0, len(utterances), ev.batch_size)],
                   unreadable)


def eval_utterances(cfg: ml_collections.ConfigDict) -> list[EvalBatch]:
    """The readable evaluation utterances of `read_eval_set`, shortest batch first; ValueError for config
    mistakes and when none is readable."""
    eval_set = read_eval_set(cfg)
    if not eval_set.batches:
        raise ValueError(no_readable_utterance(cfg, eval_set))
    return eval_set.batches


def no_readable_utterance(cfg: ml_collections.ConfigDict, eval_set: EvalSet) -> str:
    """The message for an evaluation source none of whose utterances could be read."""
    first = "; ".join(f"{name}: {reason}" for name, reason in list(eval_set.unreadable.items())[:3])
    return (f"data.eval: no readable utterance in {cfg.eval.source!r} {cfg.eval.path or cfg.eval.split!r} "
            f"({len(eval_set.unreadable)} unreadable: {first}{'; ...' if len(eval_set.unreadable) > 3 else ''})")


def _pad_batch(utterances: list[tuple[str, np.ndarray]]) -> EvalBatch:
    lengths = np.array([len(wav) for _, wav in utterances], np.int32)
    wav = np.zeros((len(utterances), lengths.max()), np.float32)
    for row, (_, samples) in enumerate(utterances):
        wav[row, :len(samples)] = samples
    return EvalBatch(tuple(name for name, _ in utterances), wav, lengths)
