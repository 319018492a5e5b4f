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


def check_code_array(codes: np.ndarray, num_quantizers: int, codebook_size: int) -> None:
    """ValueError unless `codes` is `(batch, num_quantizers, frames)` with batch and frames > 0, of integers in
    `[0, codebook_size)`: what every codec's `decode` takes."""
    if codes.ndim != 3 or codes.shape[1] != num_quantizers or codes.shape[0] == 0 or codes.shape[2] == 0:
        raise ValueError(f"codes must be (batch, {num_quantizers}, frames) with batch and frames > 0, "
                         f"got shape {codes.shape}")
    check_code_values(codes, codebook_size)
