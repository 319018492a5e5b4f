"""Corpus runs: inputs read on worker threads, device batches in order, outputs written on worker threads.

Reading (decoding, resampling) the next batches and writing finished outputs overlap with the
device work, and so does the host's work between batches: the next batch is started before the
results of the one on the devices are waited for. Each output is written as soon as its batch is
done, so an interrupted run loses only the batches in flight (two at most). An input that fails to
load is reported by name and skipped; the rest go on.
"""
from __future__ import annotations

import collections
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Iterator, NamedTuple, Sequence

from tqdm import tqdm

PREFETCH_BATCHES = 2  # batches read ahead of the one being started


class WorkItem(NamedTuple):
    """One input of a corpus run and where its output goes (`load` and `write` read them)."""

    source: Any  # the input: a path, or what the caller's `load` takes
    output: str  # the output: a path, or what the caller's `write` takes


def _prefetch(batches: Sequence[list[int]], submit: Callable[[int], Future]
              ) -> Iterator[tuple[list[int], list[Future]]]:
    """Each batch with the futures of its loads, keeping `PREFETCH_BATCHES` batches loading ahead."""
    pending: collections.deque = collections.deque()
    for batch in batches:
        pending.append((batch, [submit(i) for i in batch]))
        if len(pending) > PREFETCH_BATCHES:
            yield pending.popleft()
    yield from pending


def run_batches(jobs: Sequence[WorkItem], batches: Sequence[list[int]], seconds: Sequence[float],
                load: Callable[[WorkItem], Any], process: Callable[[list], Callable[[], list]],
                write: Callable[[WorkItem, Any], None], workers: int, desc: str) -> list[tuple[WorkItem, str]]:
    """Load, process and write every job, batch by batch; returns the failed jobs with the reason.

    `batches` are lists of indices into `jobs`; `seconds` is each job's audio duration (the
    progress bar shows files done and seconds of audio per second). `load` raises ValueError for a bad input;
    `write` errors count as failures too. `process(items)` starts a batch and returns a function that waits
    for its results (in order): batch i + 1 is started before waiting for batch i, so that the host's work
    between batches (padding, transfers, handing results to the writers) overlaps the device's.
    """
    failures: list[tuple[WorkItem, str]] = []
    writes: list[tuple[WorkItem, Future]] = []

    def fail(job: WorkItem, reason: Any) -> None:
        failures.append((job, str(reason)))
        tqdm.write(f"failed: {job.source}: {reason}", file=sys.stderr)

    readers = ThreadPoolExecutor(workers, thread_name_prefix="read")
    try:
        with ThreadPoolExecutor(workers, thread_name_prefix="write") as writers, \
                tqdm(total=len(jobs), desc=desc, unit="file") as bar:
            start, audio = time.perf_counter(), 0.0

            def finish(batch: list[int], good: list[int], results: Callable[[], list] | None) -> None:
                nonlocal audio
                if results is not None:
                    for i, result in zip(good, results()):
                        writes.append((jobs[i], writers.submit(write, jobs[i], result)))
                audio += sum(seconds[i] for i in good)
                bar.update(len(batch))
                bar.set_postfix_str(f"{audio / (time.perf_counter() - start):.1f} s audio/s")

            in_flight = None
            for batch, loads in _prefetch(batches, lambda i: readers.submit(load, jobs[i])):
                good, items = [], []
                for i, future in zip(batch, loads):
                    try:
                        items.append(future.result())
                        good.append(i)
                    except ValueError as e:
                        fail(jobs[i], e)
                started_batch = (batch, good, process(items) if items else None)
                if in_flight is not None:
                    finish(*in_flight)
                in_flight = started_batch
            if in_flight is not None:
                finish(*in_flight)
            for _, future in writes:
                future.exception()  # wait
    finally:
        readers.shutdown(wait=False, cancel_futures=True)
    for job, future in writes:
        if future.exception() is not None:
            fail(job, future.exception())
    return failures
