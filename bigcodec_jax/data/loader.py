"""The training stream: shuffled random crops from an `AudioSource`, batched per host with grain.

Global position g = 0, 1, 2, ... -> record id (a fresh permutation of the source each epoch,
from the seed) -> host p of P keeps positions p, p + P, p + 2P, ... -> a `segment_samples` crop
whose start is drawn from (seed, g) -> host batches of global_batch_size / P. Host batch k of all
hosts together is exactly positions kB .. kB + B - 1, and worker processes take whole batches in
turn, so the data depend only on the seed and the global batch size, not on host or worker
counts. See `iterator.py` for the state and resuming.
"""
from __future__ import annotations

import logging

import grain
import ml_collections
import numpy as np

from bigcodec_jax.data.bad_examples import BadExampleTally
from bigcodec_jax.data.config import validate
from bigcodec_jax.data.corpus import TRAIN_LIST
from bigcodec_jax.data.iterator import TrainIterator
from bigcodec_jax.data.sources import AudioSource, open_source

logger = logging.getLogger(__name__)

MAX_REPLACEMENTS = 64  # consecutive unreadable records before the loader gives up on the source
NAMED_PER_PROCESS = 5  # unreadable examples named in the log by each decoding process


class CropExamples:
    """(global position, record id) -> {"wav": float32 crop, "skipped": unreadable records passed over}.

    An unreadable record is replaced by the next readable one (record id + 1, + 2, ...), so the
    stream stays deterministic and resumable whatever is broken. A record counts as unreadable
    only when a second read fails too, so a passing I/O error does not change the stream.
    """

    def __init__(self, source: AudioSource, segment: int, seed: int):
        self._source, self._segment, self._seed = source, segment, seed
        self._named = 0

    def __call__(self, item: tuple[int, int]) -> dict[str, np.ndarray]:
        position, record = item
        for replacement in range(MAX_REPLACEMENTS):
            index = (record + replacement) % len(self._source)
            try:
                wav = self._read_crop(index, (self._seed, position, replacement))
            except ValueError as e:
                self._report(index, e)
                continue
            return {"wav": wav, "skipped": np.int32(replacement)}
        raise RuntimeError(f"data: {MAX_REPLACEMENTS} consecutive examples from {self._source.name(record)!r} on are "
                           "unreadable; is the data source right?")

    def _read_crop(self, index: int, rng_key: tuple[int, int, int]) -> np.ndarray:
        try:
            return self._source.read_crop(index, self._segment, np.random.default_rng(rng_key))
        except ValueError:  # once more: only a record that fails twice is unreadable
            return self._source.read_crop(index, self._segment, np.random.default_rng(rng_key))

    def _report(self, index: int, error: ValueError) -> None:
        self._named += 1
        level = logging.WARNING if self._named <= NAMED_PER_PROCESS else logging.DEBUG
        logger.log(level, "data: skipping unreadable example %s: %s", self._source.name(index), error)


def _with_position(position: int, record: int) -> tuple[int, int]:
    return position, record


def _mark_absl_flags_parsed() -> None:
    """grain 0.2.18's worker start reads an absl flag, which fails in programs that do not parse absl
    flags (google/grain#1355); mark them parsed, with their defaults, as that issue suggests."""
    from absl import flags

    if not flags.FLAGS.is_parsed():
        flags.FLAGS.mark_as_parsed()


def _process_index_and_count(process_index: int | None, process_count: int | None) -> tuple[int, int]:
    if process_index is None or process_count is None:
        import jax  # only when the caller did not say, so worker processes need not initialise it

        process_index = jax.process_index() if process_index is None else process_index
        process_count = jax.process_count() if process_count is None else process_count
    if not 0 <= process_index < process_count:
        raise ValueError(f"process_index must be in [0, process_count={process_count}), got {process_index}")
    return process_index, process_count


def _check_options(cfg: ml_collections.ConfigDict, global_batch_size: int, process_count: int, seed: int) -> None:
    validate(cfg)
    if global_batch_size <= 0 or global_batch_size % process_count:
        raise ValueError(f"global_batch_size={global_batch_size} must be a positive multiple of "
                         f"process_count={process_count}")
    if not 0 <= seed + cfg.seed_offset < 2 ** 32:
        raise ValueError(f"seed + data.seed_offset must be in [0, 2**32), got {seed + cfg.seed_offset}")


class TrainLoader:
    """What `train_loader` returns: each `iter()` gives a fresh `TrainIterator` at the first batch."""

    def __init__(self, batches: grain.MapDataset, read_options: grain.ReadOptions, workers: int,
                 max_bad_fraction: float, source_size: int):
        self._batches, self._read_options, self._workers = batches, read_options, workers
        self._max_bad_fraction, self._source_size = max_bad_fraction, source_size

    def __iter__(self) -> TrainIterator:
        return TrainIterator(self._batches, self._read_options, self._workers,
                             BadExampleTally(self._max_bad_fraction, self._source_size))


def train_loader(cfg: ml_collections.ConfigDict, global_batch_size: int, seed: int,
                 process_index: int | None = None, process_count: int | None = None) -> TrainLoader:
    """Endless training batches {"wav": float32 (global_batch_size // process_count, segment_samples)};
    `iter()` it for a `TrainIterator` (`get_state`/`set_state`, `tally` of unreadable examples).

    `cfg` is `data.default_config()` (possibly edited); process_index/count default to JAX's.
    Config mistakes raise ValueError here, naming the key.
    """
    process_index, process_count = _process_index_and_count(process_index, process_count)
    _check_options(cfg, global_batch_size, process_count, seed)
    source = open_source(cfg.source, cfg.path, cfg.split, cfg.tfds_data_dir, TRAIN_LIST, "data")
    seed = seed + cfg.seed_offset
    batches = (grain.MapDataset.range(len(source)).shuffle(seed=seed).repeat()
               .map_with_index(_with_position)[process_index::process_count]
               .map(CropExamples(source, cfg.segment_samples, seed))
               .batch(global_batch_size // process_count))
    if cfg.workers:
        _mark_absl_flags_parsed()
    logger.info("data: %d utterances from %s, host %d of %d, %d decoding processes", len(source), cfg.source,
                process_index, process_count, cfg.workers)
    read_options = grain.ReadOptions(num_threads=cfg.read_threads, prefetch_buffer_size=cfg.prefetch_batches)
    return TrainLoader(batches, read_options, cfg.workers, cfg.max_bad_fraction, len(source))
