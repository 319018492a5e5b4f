"""`python -m bigcodec_jax.launch --processes N [--devices-per-process D] -- COMMAND ARGS...`

Runs a multi-process JAX job on this machine, to try and test what runs on a TPU pod or a cluster:
N copies of COMMAND, each with `JAX_COORDINATOR_ADDRESS` (a free local port), `JAX_NUM_PROCESSES`
and `JAX_PROCESS_ID` set, which `bigcodec_jax.distributed.initialize()` reads, and on CPU D host
devices each. Every output line is prefixed with the process index (`[1] ...`). SIGINT and
SIGTERM are forwarded to every process. When one process ends with a failure (a signal, a crash,
an error exit) while others still run, the others get `--grace` seconds to finish on their own,
then SIGTERM, then SIGKILL `--kill-after` seconds later: the job always ends.

The exit status is the first failure's (a signal N gives 128 + N), else 0; processes stopped by
the launcher do not count. So the job decides: a preempted training run exits 75 everywhere
(bigcodec_jax/errors.py), a tokenisation with failed inputs exits 1 once all are done.
On a real cluster use its own launcher (SLURM's srun, a TPU pod's gcloud ssh --worker=all).

    python -m bigcodec_jax.launch --processes 2 --devices-per-process 2 -- \\
        python train.py --config configs/small.py --workdir runs/two
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import BinaryIO

from bigcodec_jax import errors

POLL_SECONDS = 0.05
DEVICE_COUNT_FLAG = "--xla_force_host_platform_device_count"


def free_port() -> int:
    """A TCP port nobody listens on now (the coordinator binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_env(index: int, count: int, port: int, devices: int | None) -> dict[str, str]:
    """The environment of process `index`: the JAX_* job variables and, when given, its CPU device count."""
    env = dict(os.environ, JAX_COORDINATOR_ADDRESS=f"127.0.0.1:{port}", JAX_NUM_PROCESSES=str(count),
               JAX_PROCESS_ID=str(index), PYTHONUNBUFFERED="1")
    if devices is not None:
        flags = re.sub(rf"{DEVICE_COUNT_FLAG}=\S*", "", env.get("XLA_FLAGS", "")).split()
        env["XLA_FLAGS"] = " ".join(flags + [f"{DEVICE_COUNT_FLAG}={devices}"])
    return env


def _die_with_parent() -> None:
    """In the child: SIGTERM when the launcher dies (even by SIGKILL), so no process outlives the job (Linux)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _copy_lines(source: BinaryIO, sink: BinaryIO, prefix: bytes, lock: threading.Lock) -> None:
    """Copy `source` to `sink` line by line, each line whole and starting with `prefix` (lines end at \\n or
    \\r, so progress bars update). A bare \\r (a progress bar returning to a line that is still empty) gets
    no prefix: the redrawn bar that follows has its own."""
    pending = b""
    while chunk := os.read(source.fileno(), 65536):
        *lines, pending = re.split(rb"(?<=\n)|(?<=\r)(?!\n)", pending + chunk)
        if lines:
            with lock:
                sink.write(b"".join(line if line == b"\r" else prefix + line for line in lines))
                sink.flush()
    if pending:
        with lock:
            sink.write(prefix + pending + b"\n")
            sink.flush()
    source.close()


def exit_status(returncode: int) -> int:
    """A shell-style status: a process killed by signal N counts as 128 + N."""
    return 128 - returncode if returncode < 0 else returncode


def describe(returncode: int) -> str:
    if returncode < 0:
        return f"was killed by {signal.Signals(-returncode).name}"
    return f"exited with status {returncode}"


class ProcessGroup:
    """N processes of one command; forwards signals, stops all when one fails."""

    def __init__(self, grace: float, kill_after: float):
        self.grace, self.kill_after = grace, kill_after
        self.processes: list[subprocess.Popen] = []
        self.signalled: int | None = None  # the last signal forwarded ...
        self.reached = 0  # ... and to how many processes: one starting meanwhile gets it from `start`

    def start(self, command: list[str], count: int, devices: int | None) -> None:
        """Start the processes; call it once `forward` handles the signals, so that none is lost meanwhile."""
        port = free_port()
        for i in range(count):
            self.processes.append(subprocess.Popen(command, env=process_env(i, count, port, devices),
                                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                                   start_new_session=True, preexec_fn=_die_with_parent))
            if self.signalled is not None and self.reached < len(self.processes):  # came while it was starting
                self.processes[-1].send_signal(self.signalled)
        lock = threading.Lock()
        self.copiers = [threading.Thread(target=_copy_lines, args=(stream, sink, f"[{i}] ".encode(), lock), daemon=True)
                        for i, p in enumerate(self.processes)
                        for stream, sink in ((p.stdout, sys.stdout.buffer), (p.stderr, sys.stderr.buffer))]
        for thread in self.copiers:
            thread.start()

    def forward(self, signum, frame) -> None:
        self.signalled, self.reached = signum, len(self.processes)
        for p in self.processes:
            if p.poll() is None:
                p.send_signal(signum)

    def wait(self) -> int:
        """Wait for every process; the job's exit status."""
        failure: int | None = None  # the first failing process's status
        stop_at = kill_at = None
        done: set[int] = set()
        while len(done) < len(self.processes):
            now = time.monotonic()
            for i, p in enumerate(self.processes):
                if i in done or p.poll() is None:
                    continue
                done.add(i)
                if p.returncode != 0 and failure is None:
                    failure = exit_status(p.returncode)
                    first = f"process {i} {describe(p.returncode)}"
                    stop_at, kill_at = now + self.grace, now + self.grace + self.kill_after
            if stop_at is not None and now >= stop_at:
                _say(f"{first} {self.grace:g} s ago and the others still run: stopping them")
                self._signal_running(signal.SIGTERM, "SIGTERM")
                stop_at = None
            if kill_at is not None and now >= kill_at:
                self._signal_running(signal.SIGKILL, "SIGKILL")
                kill_at = None
            time.sleep(POLL_SECONDS)
        for thread in self.copiers:
            thread.join()
        return failure if failure is not None else 0

    def _signal_running(self, signum: int, name: str) -> None:
        running = [i for i, p in enumerate(self.processes) if p.poll() is None]
        if running:
            _say(f"sending {name} to process{'es' if len(running) > 1 else ''} {', '.join(map(str, running))}")
        for i in running:
            self.processes[i].send_signal(signum)


def _say(message: str) -> None:
    print(f"launch: {message}", file=sys.stderr, flush=True)


def _parser() -> argparse.ArgumentParser:
    parser = errors.ArgumentParser(prog="python -m bigcodec_jax.launch", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--processes", type=errors.positive_int, required=True, help="how many processes to start")
    parser.add_argument("--devices-per-process", type=errors.positive_int, default=None, metavar="D",
                        help=f"CPU host devices of each process (sets XLA_FLAGS={DEVICE_COUNT_FLAG}=D; default: "
                             "JAX's, one)")
    parser.add_argument("--grace", type=errors.non_negative_seconds, default=5.0,
                        help="seconds the others get to finish after one process failed, before SIGTERM (default 5)")
    parser.add_argument("--kill-after", type=errors.non_negative_seconds, default=10.0,
                        help="seconds after that SIGTERM before SIGKILL (default 10)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND ARGS...: what each process runs")
    return parser


@errors.command()
def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    errors.require(bool(command), "no command given (python -m bigcodec_jax.launch --processes N -- COMMAND ARGS)")
    group = ProcessGroup(args.grace, args.kill_after)
    for signum in (signal.SIGINT, signal.SIGTERM):  # before the first process starts: a signal is never lost
        signal.signal(signum, group.forward)
    try:
        group.start(command, args.processes, args.devices_per_process)
    except OSError as e:
        raise errors.UsageError(f"cannot start {command[0]!r} ({e.strerror})") from e
    return group.wait()


if __name__ == "__main__":
    sys.exit(main())
