"""Every data option, with defaults that work offline (the packaged corpus); the paper recipe sets LibriSpeech."""
from __future__ import annotations

import ml_collections

from bigcodec_jax.errors import ConfigError


def default_config() -> ml_collections.ConfigDict:
    """The data config, field by field:

    source            'corpus' (the packaged synthetic speech), 'dir' (every audio file under `path`),
                      'list' (a file list at `path`) or 'tfds:<name>' (a prepared tfds dataset, e.g.
                      'tfds:librispeech' for the paper)
    path              the folder or file list for 'dir' / 'list' (file lists: see bigcodec_jax/io/inputs.py)
    split             tfds split expression, e.g. 'train_clean100+train_clean360+train_other500'
    tfds_data_dir     where prepared tfds data lives (None: $TFDS_DATA_DIR or ~/tensorflow_datasets)
    segment_samples   training crop length at 16 kHz; shorter utterances are zero-padded at the end
    seed_offset       added to the trainer's seed for the shuffle and crop positions
    workers           decoding processes per host (0: decode in the training process)
    read_threads      threads per process reading examples (file reading and FLAC decoding release the GIL)
    prefetch_batches  batches buffered ahead per process
    max_bad_fraction  stop with an error when more than this fraction of reads is unreadable
    eval.source       as `source`, for the fixed evaluation utterances ('corpus' = its held-out part)
    eval.path         as `path`
    eval.split        tfds split of the evaluation utterances, e.g. 'test_clean'
    eval.max_utterances  how many utterances, the first ones in source order
    eval.batch_size   utterances per batch (batched by similar length)
    """
    return ml_collections.ConfigDict(dict(
        source="corpus",
        path="",
        split="train",
        tfds_data_dir=ml_collections.config_dict.placeholder(str),
        segment_samples=16000,
        seed_offset=0,
        workers=0,
        read_threads=4,
        prefetch_batches=8,
        max_bad_fraction=0.05,
        eval=ml_collections.ConfigDict(dict(source="corpus", path="", split="test", max_utterances=64,
                                            batch_size=8)),
    ))


def _check_source(cfg: ml_collections.ConfigDict, key: str) -> None:
    from bigcodec_jax.data.sources import SOURCE_KINDS

    source = cfg.source
    if not isinstance(source, str) or not (source in ("corpus", "dir", "list") or
                                           (source.startswith("tfds:") and len(source) > len("tfds:"))):
        raise ConfigError(f"{key}.source", f"unknown source {source!r}; use {SOURCE_KINDS}")
    if source in ("dir", "list") and not cfg.path:
        raise ConfigError(f"{key}.path", f"source {source!r} needs a path")


def validate(cfg: ml_collections.ConfigDict) -> None:
    """Raise `ConfigError` naming the first bad value (`data.<key>`); files are checked when a source opens."""
    _check_source(cfg, "data")
    _check_source(cfg.eval, "data.eval")
    for key, least in (("segment_samples", 1), ("workers", 0), ("read_threads", 1), ("prefetch_batches", 1)):
        if not isinstance(cfg[key], int) or cfg[key] < least:
            raise ConfigError(f"data.{key}", f"must be an integer >= {least}, got {cfg[key]!r}")
    if not isinstance(cfg.seed_offset, int):
        raise ConfigError("data.seed_offset", f"must be an integer, got {cfg.seed_offset!r}")
    if not 0 <= cfg.max_bad_fraction <= 1:
        raise ConfigError("data.max_bad_fraction", f"must be in [0, 1], got {cfg.max_bad_fraction!r}")
    for key in ("max_utterances", "batch_size"):
        if not isinstance(cfg.eval[key], int) or cfg.eval[key] < 1:
            raise ConfigError(f"data.eval.{key}", f"must be a positive integer, got {cfg.eval[key]!r}")
