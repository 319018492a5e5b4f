"""Stop cleanly on SIGTERM / SIGINT (TPU preemption, Ctrl-C): finish the step, checkpoint, exit."""
from __future__ import annotations

import signal

import jax
import numpy as np
from jax.experimental import multihost_utils


class StopSignal:
    """Remembers a termination signal; a second SIGINT interrupts at once."""

    def __init__(self):
        self.received: str | None = None
        self._previous = {s: signal.signal(s, self._handle) for s in (signal.SIGTERM, signal.SIGINT)}

    def _handle(self, signum, frame):
        if self.received and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.received = signal.Signals(signum).name

    def any_host(self) -> bool:
        """True when this or (multi-host) any process received a signal; every process agrees."""
        if jax.process_count() == 1:
            return self.received is not None
        return bool(np.any(multihost_utils.process_allgather(np.array(self.received is not None))))

    def restore(self) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
