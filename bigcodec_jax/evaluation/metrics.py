"""Per-utterance quality metrics of a reconstruction against its reference (16 kHz mono, same length).

Each metric returns a float or raises `MetricUnavailable` with the reason (too short, silence, a
package that is not installed), so a report can name what is missing instead of guessing a value.
"""
from __future__ import annotations

import functools
import math
import warnings
from typing import Callable, Sequence

import jax
import numpy as np

from bigcodec_jax.audio import SAMPLE_RATE
from bigcodec_jax.evaluation.features import N_MELS, log_mel
from bigcodec_jax.nn import spectral

SILENCE_PEAK = 1e-4  # -80 dBFS: a signal whose peak is lower counts as silence
MCD_COEFFICIENTS = 24  # mel cepstra c1..c24 (c0, the loudness, is left out)
_MCD_SCALE = 10.0 / math.log(10.0) * math.sqrt(2.0)
_PESQ_MIN_SECONDS = 0.25
_STOI_SHORT_WARNING = "Not enough STFT frames"
# pesq is an optional extra: it ships no wheels and builds with a C compiler, which the core install must not need.
PESQ_NOT_INSTALLED = "the pesq package is not installed: pip install 'bigcodec-jax[eval]'"

# The training loss, jitted once per utterance length (the compiled functions are reused by later evaluations).
_mel_loss = jax.jit(functools.partial(spectral.mel_distance, config=spectral.mel_distance_config()))


class MetricUnavailable(Exception):
    """The metric has no value for this utterance; the message says why."""


def _require_sound(x: np.ndarray, what: str) -> None:
    if np.max(np.abs(x)) < SILENCE_PEAK:
        raise MetricUnavailable(f"the {what} is silent (peak below -80 dBFS)")


def mel_distance(reference: np.ndarray, reconstruction: np.ndarray) -> float:
    """The training loss's multi-resolution mel distance (`nn.spectral.mel_distance`, 7 resolutions); lower is better."""
    return float(_mel_loss(reconstruction[None], reference[None]))


def si_sdr(reference: np.ndarray, reconstruction: np.ndarray) -> float:
    """Scale-invariant SDR in dB of the zero-mean signals, `10 log10(|a s|^2 / |a s - s_hat|^2)` with the
    least-squares gain `a`; sample-aligned, so delays lower it; higher is better (finite even when identical)."""
    s = reference.astype(np.float64) - np.mean(reference, dtype=np.float64)
    e = reconstruction.astype(np.float64) - np.mean(reconstruction, dtype=np.float64)
    _require_sound(s, "reference")
    _require_sound(e, "reconstruction")
    target = (e @ s) / (s @ s) * s
    target_energy = target @ target
    noise = e - target
    return float(10.0 * np.log10(target_energy / max(noise @ noise, np.finfo(np.float64).eps ** 2 * target_energy)))


def stoi(reference: np.ndarray, reconstruction: np.ndarray) -> float:
    """Short-time objective intelligibility (`pystoi`, classic STOI) in [0, 1]; higher is better."""
    try:
        from pystoi import stoi as pystoi_stoi
        from pystoi.stoi import FS, N, N_FRAME
    except ImportError:
        raise MetricUnavailable("the pystoi package is not installed (pip install pystoi)") from None
    # pystoi frames the signal at 10 kHz into half-overlapping N_FRAME windows and needs N frames of speech; a
    # clip that cannot hold them even before silence is removed gets no value (and one of under a single
    # window makes pystoi raise).
    needed = N_FRAME + N * (N_FRAME // 2) + 1
    if math.ceil(len(reference) * FS / SAMPLE_RATE) < needed:
        raise MetricUnavailable(f"too little speech for STOI: shorter than the {needed / FS:.2f} s its {N} frames "
                                "need")
    _require_sound(reference, "reference")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = pystoi_stoi(reference, reconstruction, SAMPLE_RATE)
    if any(_STOI_SHORT_WARNING in str(w.message) for w in caught):
        raise MetricUnavailable("too little speech for STOI (it needs 30 frames, ~0.4 s, after removing silence)")
    return float(value)


def _pesq(reference: np.ndarray, reconstruction: np.ndarray, mode: str) -> float:
    try:
        import pesq
    except ImportError:
        raise MetricUnavailable(PESQ_NOT_INSTALLED) from None
    if len(reference) < _PESQ_MIN_SECONDS * SAMPLE_RATE:
        raise MetricUnavailable(f"shorter than the {_PESQ_MIN_SECONDS} s PESQ needs")
    _require_sound(reference, "reference")
    _require_sound(reconstruction, "reconstruction")
    try:
        return float(pesq.pesq(SAMPLE_RATE, reference, reconstruction, mode))
    except pesq.NoUtterancesError:
        raise MetricUnavailable("PESQ detected no utterance") from None
    except (pesq.PesqError, ValueError) as e:
        raise MetricUnavailable(f"PESQ failed: {e}") from None


def pesq_wb(reference: np.ndarray, reconstruction: np.ndarray) -> float:
    """Wide-band PESQ (ITU-T P.862.2 MOS-LQO, `pesq` package), 1.04 ... 4.64; higher is better."""
    return _pesq(reference, reconstruction, "wb")


def pesq_nb(reference: np.ndarray, reconstruction: np.ndarray) -> float:
    """Narrow-band PESQ (ITU-T P.862.1 MOS-LQO, `pesq` package), 1.02 ... 4.55; higher is better."""
    return _pesq(reference, reconstruction, "nb")


def mel_cepstrum(wav: np.ndarray) -> np.ndarray:
    """`(frames, MCD_COEFFICIENTS)` mel cepstra c1..c24 of `features.log_mel` (M = 80 bands) per frame:
    `c_n = 1/M sum_m log_mel_m cos(pi n (m + 1/2) / M)`, the convention `log S = c_0 + 2 sum_n c_n cos(n w)`."""
    import scipy.fft

    return scipy.fft.dct(log_mel(wav), type=2, axis=-1)[:, 1:MCD_COEFFICIENTS + 1] / (2 * N_MELS)


def mcd(reference: np.ndarray, reconstruction: np.ndarray) -> float:
    """Mel-cepstral distortion in dB: mean over time-aligned frames (no DTW) of
    `10 / ln 10 * sqrt(2 * sum_d (c_d - c_hat_d)^2)` over `mel_cepstrum`'s c1..c24; lower is better."""
    diff = mel_cepstrum(reference) - mel_cepstrum(reconstruction)
    return float(np.mean(_MCD_SCALE * np.sqrt(np.sum(diff ** 2, axis=-1))))


METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "mel_distance": mel_distance, "si_sdr": si_sdr, "stoi": stoi, "pesq_wb": pesq_wb, "pesq_nb": pesq_nb, "mcd": mcd}
FAST_METRICS = ("mel_distance", "si_sdr", "stoi")  # cheap enough to run during training
ALL_METRICS = tuple(METRICS)
LOWER_IS_BETTER = frozenset({"mel_distance", "mcd"})  # distances; the other metrics are scores


def improved(name: str, before: float, after: float) -> bool:
    """Whether metric `name` is better at `after` than at `before`."""
    return after < before if name in LOWER_IS_BETTER else after > before


def definition(name: str) -> str:
    """A metric's definition, one line (its docstring)."""
    return " ".join(METRICS[name].__doc__.split())


def check_names(names: Sequence[str]) -> tuple[str, ...]:
    """`names` as a tuple; ValueError naming any unknown metric."""
    unknown = [n for n in names if n not in METRICS]
    if unknown or not names:
        raise ValueError(f"unknown or no metrics {unknown}; known: {', '.join(METRICS)}")
    return tuple(names)


def measure(reference: np.ndarray, reconstruction: np.ndarray,
            names: Sequence[str]) -> tuple[dict[str, float], dict[str, str]]:
    """(values, reasons): each named metric's value, or the reason it is missing."""
    values, missing = {}, {}
    for name in names:
        try:
            values[name] = METRICS[name](reference, reconstruction)
        except MetricUnavailable as e:
            missing[name] = str(e)
    return values, missing
