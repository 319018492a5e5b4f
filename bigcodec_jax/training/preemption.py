"""Stop cleanly on SIGTERM / SIGINT (preemption, Ctrl-C): finish the step, checkpoint it, exit with
`errors.PREEMPTED` (75).

One process: Python signal handlers set a flag that the loop reads after each step.

Several processes: JAX's preemption service. Its handler (installed when `StopSignal` is made; until then
SIGTERM ends the process at once, through `errors.Terminated`) catches SIGTERM in whichever process gets it
and tells the coordination service; every process then agrees in the background on the first step all of
them can still reach, and `should_stop(step)` is True at that same step everywhere, so all save the same
step. Checking costs a few microseconds and no communication per step. SIGINT is turned into SIGTERM so it
takes the same path.
"""
from __future__ import annotations

import os
import signal

import jax
from jax.experimental import multihost_utils

from bigcodec_jax import distributed


class Preempted(Exception):
    """The run stopped at `step` on a termination signal, after checkpointing it; rerun to continue."""

    def __init__(self, step: int, reason: str):
        super().__init__(f"{reason}: stopped at step {step} after checkpointing it; rerun the same command to continue")
        self.step = step


class StopSignal:
    """Watches for termination signals; a second SIGINT interrupts at once (KeyboardInterrupt)."""

    def __init__(self):
        self.received: str | None = None
        self._shared = jax.process_count() > 1
        if self._shared:
            distributed.start_preemption_service()
        handled = (signal.SIGINT,) if self._shared else (signal.SIGTERM, signal.SIGINT)
        self._previous = {s: signal.signal(s, self._handle) for s in handled}

    def _handle(self, signum, frame):
        if self.received and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.received = signal.Signals(signum).name
        if self._shared:
            os.kill(os.getpid(), signal.SIGTERM)  # JAX's preemption notifier owns SIGTERM

    def should_stop(self, step: int) -> bool:
        """Call after every step, on every process: True when the run must checkpoint `step` and stop (the
        same step on all processes)."""
        if self._shared:
            return multihost_utils.reached_preemption_sync_point(step)
        return self.received is not None

    @property
    def reason(self) -> str:
        if self._shared:
            return f"{self.received or 'SIGTERM'} received (by this or another process)"
        return f"{self.received} received"

    def restore(self) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
