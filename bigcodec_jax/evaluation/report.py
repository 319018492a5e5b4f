"""The result of an evaluation and how it is written: metrics.json, utterances.csv, example wavs and pictures."""
from __future__ import annotations

import collections
import csv
import dataclasses
import json
import os
from typing import Any

import numpy as np
import soundfile as sf

from bigcodec_jax.audio import SAMPLE_RATE
from bigcodec_jax.evaluation.codes import CodeStatistics
from bigcodec_jax.evaluation.metrics import definition
from bigcodec_jax.evaluation.plots import save_mel_comparison

METRICS_FILE = "metrics.json"
UTTERANCES_FILE = "utterances.csv"
EXAMPLES_DIR = "examples"


@dataclasses.dataclass(frozen=True)
class UtteranceResult:
    """One utterance: its metric values and, for the metrics without one, the reason."""

    name: str
    samples: int
    frames: int
    values: dict[str, float]
    missing: dict[str, str]


@dataclasses.dataclass(frozen=True)
class Example:
    """An utterance kept whole for listening and pictures (16 kHz float32)."""

    name: str
    reference: np.ndarray
    reconstruction: np.ndarray


@dataclasses.dataclass
class Report:
    """Everything an evaluation measured; `model` describes the codec (the CLI adds the checkpoint)."""

    metrics: tuple[str, ...]
    utterances: list[UtteranceResult]
    codes: CodeStatistics
    model: dict[str, Any]
    examples: list[Example]

    def values(self, metric: str) -> list[float]:
        """A metric's values, in utterance order, over the utterances that have one."""
        return [u.values[metric] for u in self.utterances if metric in u.values]

    def counts(self) -> dict[str, int]:
        """Utterances with a value, per metric."""
        return {m: len(self.values(m)) for m in self.metrics}

    def means(self) -> dict[str, float | None]:
        """Mean per metric over the utterances that have a value (None when none has)."""
        return {m: float(np.mean(v)) if (v := self.values(m)) else None for m in self.metrics}

    def missing_reasons(self) -> dict[str, dict[str, int]]:
        """For each metric with missing values: how many utterances miss it for each reason."""
        reasons: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        for u in self.utterances:
            for metric, reason in u.missing.items():
                reasons[metric][reason] += 1
        return {m: dict(c) for m, c in reasons.items()}

    def scalars(self) -> dict[str, float]:
        """The numbers to log while training: metric means that exist, codebook usage and perplexity."""
        means = {m: v for m, v in self.means().items() if v is not None}
        return {**means, "codebook_usage": self.codes.usage, "code_perplexity": self.codes.perplexity}

    def summary(self) -> dict[str, Any]:
        """The content of metrics.json."""
        return {
            "utterances": len(self.utterances),
            "seconds": sum(u.samples for u in self.utterances) / SAMPLE_RATE,
            "means": self.means(),
            "counts": self.counts(),
            "missing": self.missing_reasons(),
            "codes": dataclasses.asdict(self.codes),
            "model": self.model,
            "definitions": {m: definition(m) for m in self.metrics},
        }


def example_stem(name: str) -> str:
    """A flat file-name stem for an utterance name (which may hold folders and an extension)."""
    return os.path.splitext(name)[0].replace("/", "_").replace(os.sep, "_")


def write_report(report: Report, output_dir: str) -> None:
    """Write metrics.json, utterances.csv (one row per utterance, empty cells where missing, the reasons in
    `missing`) and, per example, `examples/<name>.input.wav`, `.reconstruction.wav` and `.mel.png`."""
    os.makedirs(output_dir, exist_ok=True)
    with open(os.path.join(output_dir, METRICS_FILE), "w") as f:
        json.dump(report.summary(), f, indent=1)
    with open(os.path.join(output_dir, UTTERANCES_FILE), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["name", "seconds", "frames", *report.metrics, "missing"])
        for u in report.utterances:
            writer.writerow([u.name, f"{u.samples / SAMPLE_RATE:.3f}", u.frames,
                             *(repr(u.values[m]) if m in u.values else "" for m in report.metrics),
                             "; ".join(f"{m}: {reason}" for m, reason in u.missing.items())])
    for example in report.examples:
        stem = os.path.join(output_dir, EXAMPLES_DIR, example_stem(example.name))
        os.makedirs(os.path.dirname(stem), exist_ok=True)
        sf.write(f"{stem}.input.wav", example.reference, SAMPLE_RATE)
        sf.write(f"{stem}.reconstruction.wav", example.reconstruction, SAMPLE_RATE)
        save_mel_comparison(f"{stem}.mel.png", example.reference, example.reconstruction, example.name)
