"""One error style for every command: a one-line `error: ...` on stderr and a documented exit status.

Every command's `main(argv)` is wrapped by `command(...)`, which turns what the command raises into
the status below and never shows a traceback for an error the user can fix (pass `--debug`, or
set BIGCODEC_DEBUG=1, to see it anyway). The wrapped `main` returns the status instead of
raising `SystemExit`, so it can be called in-process (`main(["encode", ...])`).

Exit statuses are the constants below (`OK` ... `TERMINATED`); docs/errors.md is their table: what each
means to a user and when a command returns it.

Errors raised for the user (not bugs):
    UsageError  (ValueError)  -> 2
    Failure                   -> 1; InputError (ValueError) is the Failure of a bad input, and
                                 `checkpoints.torch_zip.CheckpointError` is an InputError.
    ConfigError (ValueError)  a config value that cannot be used, its dotted key named; train.py
                              reports a bad training config as a UsageError (2)
    OSError (a file that cannot be read or written, a full disk) and MemoryError, also out of device
    memory -> 1, with the message in one line.
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import logging
import math
import multiprocessing
import os
import signal
import sys
import threading
import traceback
from typing import Any, Callable, Iterator, NoReturn

OK = 0
FAILED = 1
USAGE = 2
SOFTWARE = 70
PREEMPTED = 75
INTERRUPTED = 130
TERMINATED = 143

DEBUG_FLAG = "--debug"
DEBUG_ENV = "BIGCODEC_DEBUG"
# Libraries that log what goes wrong, tracebacks included, before raising it, which `command` then reports in
# one line (gcsfs logs each request that runs out of retries); silent unless --debug.
LIBRARY_LOGGERS = ("gcsfs", "fsspec", "s3fs", "google", "urllib3", "aiohttp", "botocore")


class UsageError(ValueError):
    """The command line cannot be carried out as given (exit status 2)."""


class Failure(Exception):
    """The command could not do its work: a bad input, or a run that cannot go on (exit status 1)."""


class InputError(Failure, ValueError):
    """An input (checkpoint, codes or audio file, data set) that cannot be used; the message says why."""


class ConfigError(ValueError):
    """A config value that cannot be used: `key` is its dotted path (`data.batch_size`), and the message
    starts with it (an empty key: the config as a whole, e.g. text that is not JSON). Every config check
    (the codec's, the data's, the training config's) raises this."""

    def __init__(self, key: str, message: str):
        super().__init__(f"{key}: {message}" if key else message)
        self.key, self.message = key, message

    def under(self, prefix: str) -> ConfigError:
        """The same error named from a config that holds the checked one at `prefix` (`config.model`)."""
        return ConfigError(f"{prefix}.{self.key}" if self.key else prefix, self.message)


class Terminated(BaseException):
    """SIGTERM received by a command (raised in the main thread so that `finally` blocks run)."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse with this module's style: a bad command line raises `UsageError` (one line, status 2)
    instead of printing the usage block, and every parser and subparser accepts `--debug`."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.add_argument(DEBUG_FLAG, action="store_true", default=argparse.SUPPRESS,
                          help="show the full traceback of an error")

    def error(self, message: str):
        raise UsageError(f"{message} (see {self.prog} --help)")


def _type(convert: Callable[[str], Any], check: Callable[[Any], bool], what: str) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not check(value):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        return value

    parse.__name__ = what  # argparse names the type in some messages
    return parse


positive_int = _type(int, lambda v: v > 0, "a positive integer")
non_negative_int = _type(int, lambda v: v >= 0, "an integer >= 0")
positive_seconds = _type(float, lambda v: math.isfinite(v) and v > 0, "a positive number of seconds")
non_negative_seconds = _type(float, lambda v: math.isfinite(v) and v >= 0, "a number of seconds >= 0")
positive_milliseconds = _type(float, lambda v: math.isfinite(v) and v > 0, "a positive number of milliseconds")


def require(condition: bool, message: str) -> None:
    """Raise `UsageError(message)` unless `condition`."""
    if not condition:
        raise UsageError(message)


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text if not isinstance(e, OSError) or e.filename is None or str(e.filename) in text \
        else f"{text}: {e.filename}"


def _is_device_oom(e: BaseException) -> bool:
    return "RESOURCE_EXHAUSTED" in str(e)[:200]


def _exit_status(e: SystemExit) -> int:
    if e.code is None or isinstance(e.code, int):
        return e.code or OK
    print(f"error: {e.code}", file=sys.stderr)  # `raise SystemExit("message")`
    return FAILED


class _SigtermAsException:
    """While active, SIGTERM raises `Terminated` in the main thread (unless someone else handles it)."""

    def __enter__(self):
        self.previous = None
        if threading.current_thread() is threading.main_thread() \
                and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            self.previous = signal.signal(signal.SIGTERM, self._raise)
        return self

    @staticmethod
    def _raise(signum, frame):
        raise Terminated

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)
        return False


@contextlib.contextmanager
def _quiet_libraries(quiet: bool) -> Iterator[None]:
    """`LIBRARY_LOGGERS` silenced while the command runs (when `quiet`), then as they were."""
    loggers = [logging.getLogger(name) for name in LIBRARY_LOGGERS] if quiet else []
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _end_progress_bars() -> None:
    """Close progress bars an interrupt left open, so the message starts on a line of its own."""
    import tqdm

    for bar in list(getattr(tqdm.tqdm, "_instances", ())):
        bar.close()


def _end_process(status: int) -> NoReturn:
    """End this process with `status` at once, skipping the interpreter's teardown.

    An interrupt can leave JAX work running on its own threads: Ctrl-C or SIGTERM during an XLA compile
    abandons the compile, which goes on in JAX's thread pool. The teardown then destroys the JAX client,
    whose destructor waits for that compile (a minute or more for the released model) and whose devices the
    compile's end then uses: a segmentation fault instead of the status. By the time this is called the
    `finally` blocks have run and the message is printed, so nothing is left to save: flush what is
    buffered, stop our child processes (the data loader's), and leave.
    """
    logging.shutdown()
    for child in multiprocessing.active_children():
        child.terminate()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe, a closed stream
            pass
    os._exit(status)


def command(interrupted: str = "") -> Callable[[Callable[..., int]], Callable[..., int]]:
    """Decorate a command's `main(argv=None) -> int` with the error style and exit statuses above.

    `interrupted` is said after Ctrl-C / SIGTERM (e.g. what was kept and how to continue). Run as the
    program (`argv` None: the process's own command line), an interrupted command then ends the process
    at once with its status (`_end_process`); called in-process, it returns the status.
    """
    def decorate(main: Callable[..., int]) -> Callable[..., int]:
        @functools.wraps(main)
        def run(argv: list[str] | None = None) -> int:
            words = sys.argv[1:] if argv is None else list(argv)
            debug = DEBUG_FLAG in words or os.environ.get(DEBUG_ENV, "") not in ("", "0")

            def report(e: BaseException, what: str = "error") -> None:
                _end_progress_bars()
                if debug:
                    traceback.print_exc()
                print(f"{what}: {_one_line(e)}", file=sys.stderr)

            def stopped(signal_name: str) -> None:
                _end_progress_bars()
                if debug:
                    traceback.print_exc()
                print(f"interrupted ({signal_name})" + (f": {interrupted}" if interrupted else ""), file=sys.stderr)

            try:
                with _SigtermAsException(), _quiet_libraries(not debug):
                    return main(argv)
            except SystemExit as e:
                return _exit_status(e)
            except KeyboardInterrupt:
                stopped("Ctrl-C")
                status = INTERRUPTED
            except Terminated:
                stopped("SIGTERM")
                status = TERMINATED
            except UsageError as e:
                report(e)
                return USAGE
            except (Failure, OSError) as e:
                report(e)
                return FAILED
            except MemoryError as e:
                report(e, "error: out of memory")
                return FAILED
            except Exception as e:  # noqa: BLE001 - the last resort: everything else is a bug
                if _is_device_oom(e):
                    report(e, "error: out of device memory (lower the batch size or the window)")
                    return FAILED
                traceback.print_exc()
                print(f"error: internal error ({type(e).__name__}); this is a bug, please report it with the "
                      "traceback above", file=sys.stderr)
                return SOFTWARE
            if argv is None:
                _end_process(status)
            return status

        return run

    return decorate
