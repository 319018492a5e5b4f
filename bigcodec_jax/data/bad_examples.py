"""Counting the unreadable examples the loader passed over, and stopping a run when there are too many.

Decoding (possibly in worker processes) replaces an unreadable record by the next readable one
and reports how many it passed over in each element's `skipped` field; the training iterator
feeds those counts to a `BadExampleTally` in the training process, which logs a running total
and raises `TooManyBadExamples` past `data.max_bad_fraction`.
"""
from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

READS_BEFORE_JUDGING = 1000  # reads (or the whole source, if smaller) before the fraction is trusted


class TooManyBadExamples(RuntimeError):
    """More than `data.max_bad_fraction` of the examples read were unreadable."""


class BadExampleTally:
    """Unreadable (`bad`) and all (`read`) examples read since the start of the run."""

    def __init__(self, max_bad_fraction: float, source_size: int):
        self.max_bad_fraction = max_bad_fraction
        self.reads_before_judging = min(source_size, READS_BEFORE_JUDGING)
        self.bad = self.read = 0

    @property
    def fraction(self) -> float:
        return self.bad / max(self.read, 1)

    def add(self, skipped: int, delivered: int) -> None:
        """Count a batch: `skipped` unreadable examples passed over to deliver `delivered` good ones."""
        previous = self.bad
        self.bad += skipped
        self.read += skipped + delivered
        if self.bad.bit_length() > previous.bit_length():  # log at 1, 2, 4, 8, ... skipped
            logger.warning("data: %d unreadable examples skipped so far (%.2f%% of %d read)", self.bad,
                           100 * self.fraction, self.read)
        if self.read >= self.reads_before_judging and self.fraction > self.max_bad_fraction:
            raise TooManyBadExamples(
                f"data: {self.bad} of {self.read} examples read ({100 * self.fraction:.1f}%) were unreadable, more "
                f"than data.max_bad_fraction={self.max_bad_fraction}; the first are named in the log above. Fix or "
                "remove them, or raise data.max_bad_fraction.")


def bad_example_count(iterator) -> int:
    """Unreadable examples a training iterator has skipped so far (for TensorBoard); its `tally` also
    has `read` (all examples read) and `fraction`."""
    return iterator.tally.bad
