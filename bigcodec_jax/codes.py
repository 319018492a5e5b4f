"""Checks of code arrays at the API boundary, the counterpart of `audio.py` for codes: one rule for offline
`BigCodec.decode` and the stream decoder."""
from __future__ import annotations

import numpy as np


def check_code_values(codes: np.ndarray, codebook_size: int, valid: np.ndarray | None = None) -> None:
    """ValueError unless `codes` are integers in `[0, codebook_size)`.

    `valid`: a boolean mask of `codes`' shape; only the codes where it is True are checked (a stream's codes
    past a row's end are ignored).
    """
    if codes.dtype.kind not in "iu":
        raise ValueError(f"codes must be integers in [0, {codebook_size}), got dtype {codes.dtype}")
    values = codes if valid is None else codes[valid]
    if values.size and (values.min() < 0 or values.max() >= codebook_size):
        raise ValueError(f"codes must be integers in [0, {codebook_size}), got values from {values.min()} "
                         f"to {values.max()}")
