"""Output checks, before any work: an output folder that can be written to, and no output that would
overwrite an input."""
from __future__ import annotations

import os
import secrets
from typing import Iterable

from bigcodec_jax.errors import UsageError
from bigcodec_jax.io import paths, staged


def check_no_overwrite(pairs: Iterable[tuple[str, str]]) -> None:
    """UsageError when an output path (second of each pair) is, or resolves to, any input path (first).

    Paths are compared after resolving symbolic links, so an output folder that is a link to the
    input folder is caught too.
    """
    pairs = list(pairs)
    inputs = {paths.resolve(source): source for source, _ in pairs}
    clashes = [(inputs[paths.resolve(out)], out) for _, out in pairs if paths.resolve(out) in inputs]
    if clashes:
        source, out = clashes[0]
        more = f" (and {len(clashes) - 1} more)" if len(clashes) > 1 else ""
        raise UsageError(f"the output {out} would overwrite the input {source}{more}; choose another --output")


def prepare_output_dir(path: str, flag: str = "--output") -> None:
    """Create the output folder `path` if needed and check that files can be created in it (UsageError
    otherwise), so that an unusable output is found before any work rather than after it. For a URL an empty
    object is written and deleted (a missing bucket or no permission shows here)."""
    try:
        if paths.isfile(path):
            raise UsageError(f"{flag} {path} is a file, not a folder")
        paths.makedirs(path)
        probe = paths.join(path, f".write-test-{secrets.token_hex(4)}")
        if paths.is_remote(path):
            staged.write_bytes(probe, b"")
        else:
            os.close(os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        paths.remove(probe)
    except UsageError:
        raise
    except Exception as e:  # OSError locally (an unreachable store too); fsspec stores raise their own types
        raise UsageError(f"{flag} {path} cannot be written ({getattr(e, 'strerror', None) or e})") from None
