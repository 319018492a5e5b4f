"""Joining a multi-process JAX job (TPU pod slices, SLURM, Open MPI, `python -m bigcodec_jax.launch`).

`initialize()` is the one entry point of `train.py`, `inference.py` and `python -m bigcodec_jax.evaluate`:

1. `JAX_COORDINATOR_ADDRESS`, `JAX_NUM_PROCESSES` and `JAX_PROCESS_ID` in the environment (what the
   local launcher sets, and what any launcher can set) describe the job explicitly;
2. otherwise JAX's own cluster detection runs when the environment shows a job of several processes
   (Cloud TPU pod slices: `TPU_WORKER_HOSTNAMES`; SLURM: `SLURM_NTASKS`; Open MPI: `OMPI_COMM_WORLD_SIZE`);
3. otherwise the program is a single process and nothing is initialised.

It logs which. With several processes on CPU, collectives go through gloo (JAX's CPU default has none
across processes). A dead peer is noticed by the coordination service's heartbeat after
`HEARTBEAT_TIMEOUT_SECONDS`; the local launcher notices at once.
"""
from __future__ import annotations

import collections
import logging
import os

import jax

log = logging.getLogger(__name__)

EXPLICIT_VARIABLES = ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID")
HEARTBEAT_TIMEOUT_SECONDS = 60  # a process that stops answering for this long fails the job (JAX's default: 100)
BARRIER_TIMEOUT_SECONDS = 24 * 3600  # processes may finish their share of a corpus hours apart


def _detected_cluster() -> str | None:
    """The kind of multi-process job the environment describes for JAX's auto-detection, or None."""
    env = os.environ
    if len([h for h in env.get("TPU_WORKER_HOSTNAMES", "").split(",") if h]) > 1:
        return "Cloud TPU"
    if int(env.get("SLURM_NTASKS", "1") or 1) > 1:
        return "SLURM"
    if int(env.get("OMPI_COMM_WORLD_SIZE", "1") or 1) > 1:
        return "Open MPI"
    return None


def _explicit() -> tuple[str, int, int] | None:
    """(coordinator, processes, process id) from the JAX_* variables, or None when none is set."""
    values = [os.environ.get(name) for name in EXPLICIT_VARIABLES]
    if not any(values):
        return None
    if not all(values):
        missing = [name for name, value in zip(EXPLICIT_VARIABLES, values) if not value]
        raise ValueError(f"distributed: {', '.join(missing)} not set; set all of {', '.join(EXPLICIT_VARIABLES)} "
                         "or none")
    try:
        count, index = int(values[1]), int(values[2])
    except ValueError:
        raise ValueError(f"distributed: JAX_NUM_PROCESSES={values[1]!r} and JAX_PROCESS_ID={values[2]!r} must be "
                         "integers") from None
    if not 0 <= index < count:
        raise ValueError(f"distributed: JAX_PROCESS_ID={index} must be in [0, JAX_NUM_PROCESSES={count})")
    return values[0], count, index


def initialize() -> str:
    """Join the job the environment describes (see the module docstring); returns and logs how.

    Call it once, before anything touches a JAX device.
    """
    explicit = _explicit()
    cluster = None if explicit else _detected_cluster()
    if explicit is None and cluster is None:
        how = "a single process (no JAX_COORDINATOR_ADDRESS, TPU pod, SLURM or Open MPI job in the environment)"
        log.debug("distributed: %s", how)  # the usual case: nothing worth a line on every start
        return how
    jax.config.update("jax_cpu_collectives_implementation", "gloo")  # CPU collectives across processes
    # JAX's preemption service takes SIGTERM from Python for good (a C handler that only notes it). Started
    # here, a SIGTERM before training could stop would wait for the compile and the first steps; training
    # starts it when its loop can stop (`start_preemption_service`), other commands never need it.
    jax.config.update("jax_enable_preemption_service", False)
    if explicit:
        coordinator, count, index = explicit
        jax.distributed.initialize(coordinator, count, index, heartbeat_timeout_seconds=HEARTBEAT_TIMEOUT_SECONDS)
        source = f"JAX_* variables, coordinator {coordinator}"
    else:
        jax.distributed.initialize(heartbeat_timeout_seconds=HEARTBEAT_TIMEOUT_SECONDS)
        source = f"{cluster} detected by JAX"
    how = (f"process {jax.process_index()} of {jax.process_count()} ({source}); {jax.local_device_count()} local "
           f"of {jax.device_count()} {jax.devices()[0].platform} devices")
    log.info("distributed: %s", how)
    return how


def start_preemption_service() -> None:
    """Hand SIGTERM to JAX's preemption service (see `training.preemption`); from here on a SIGTERM to any
    process makes `jax.experimental.multihost_utils.reached_preemption_sync_point` name one step on all.

    Call it in every process of a job once `initialize()` joined one; a second call does nothing.
    """
    from jax._src import distributed as jax_distributed

    if jax_distributed.global_state.preemption_sync_manager is None:
        jax.config.update("jax_enable_preemption_service", True)
        jax_distributed.global_state.initialize_preemption_sync_manager()


def is_main_process() -> bool:
    """Process 0: the one that writes logs, summaries and indexes."""
    return jax.process_index() == 0


def _client():
    """The coordination service's client of this process (JAX has no public handle; Orbax does the same)."""
    from jax._src import distributed as jax_distributed

    return jax_distributed.global_state.client


_uses: collections.Counter = collections.Counter()  # how often each name was used: keys stay unique


def _unique(name: str) -> str:
    _uses[name] += 1
    return f"bigcodec/{name}/{_uses[name]}"


def barrier(name: str, timeout_seconds: float = BARRIER_TIMEOUT_SECONDS) -> None:
    """Wait until every process reaches the barrier `name` (a no-op with one process).

    `barrier` and `gather` wait in the coordination service, not in device collectives: no collective's
    timeout (gloo gives up after 30 s), nothing to compile; a process that dies meanwhile fails them.
    Every process must call them with the same names in the same order.
    """
    if jax.process_count() > 1:
        _client().wait_at_barrier(_unique(name), int(timeout_seconds * 1000))


def gather(name: str, value: str, timeout_seconds: float = BARRIER_TIMEOUT_SECONDS) -> list[str]:
    """Every process's `value`, in process order (see `barrier`)."""
    if jax.process_count() == 1:
        return [value]
    client, key = _client(), _unique(name)
    client.key_value_set(f"{key}/{jax.process_index()}", value)
    return [client.blocking_key_value_get(f"{key}/{p}", int(timeout_seconds * 1000))
            for p in range(jax.process_count())]


def sum_over_processes(name: str, value: int) -> int:
    """The sum of an integer over all processes (see `gather`)."""
    return sum(int(v) for v in gather(name, str(int(value))))
