"""Exit statuses of the command-line tools, defined once.

- `OK` (0): the job finished.
- `FAILED` (1): bad input or configuration, or some inputs failed (they are named).
- `PREEMPTED` (75, `EX_TEMPFAIL` of sysexits.h): a run stopped by SIGTERM or Ctrl-C after saving its
  state; rerunning the same command continues it. Not 0, so a scheduler (a Kubernetes Job, SLURM
  `--requeue`) never takes a preempted run for a finished one.
"""
OK = 0
FAILED = 1
PREEMPTED = 75
