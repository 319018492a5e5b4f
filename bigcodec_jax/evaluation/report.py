"""The result of an evaluation and how it is written: report.html, metrics.json, utterances.csv, example wavs
and pictures."""
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
from bigcodec_jax.evaluation import html_report, plots
from bigcodec_jax.evaluation.codes import CODE_DEFINITIONS, CodeStatistics
from bigcodec_jax.evaluation.metrics import LOWER_IS_BETTER, definition
from bigcodec_jax.io import staged

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


def example_files(name: str) -> dict[str, str]:
    """The files of the example `name`, relative to the output folder: input, reconstruction and figure."""
    stem = os.path.join(EXAMPLES_DIR, example_stem(name))
    return {"input": f"{stem}.input.wav", "reconstruction": f"{stem}.reconstruction.wav", "figure": f"{stem}.mel.png"}


def metrics_table(report: Report) -> html_report.Table:
    """Per metric: which way is better, the mean, how many utterances have it and why the others miss it;
    then the code statistics."""
    means, counts, missing = report.means(), report.counts(), report.missing_reasons()
    rows = [[m, "lower" if m in LOWER_IS_BETTER else "higher", html_report.number(means[m]),
             f"{counts[m]} of {len(report.utterances)}",
             "; ".join(f"{reason} ({n})" for reason, n in missing.get(m, {}).items())] for m in report.metrics]
    rows += [["codebook_usage", "higher", f"{report.codes.usage:.3f}", "", ""],
             ["code_perplexity", "higher", f"{report.codes.perplexity:.1f}", "", ""],
             ["bitrate", "", f"{report.codes.bitrate:.0f}", "", ""]]
    return html_report.Table(["metric", "better", "mean", "utterances", "missing: reason (utterances)"], rows)


def model_sentence(model: dict[str, Any]) -> str:
    """What the report says about the codec, in words."""
    codebooks = "one codebook" if model["num_quantizers"] == 1 else f"{model['num_quantizers']} codebooks"
    return (f"The codec has {model['parameters']:,} generator parameters, {codebooks} of {model['codebook_size']} "
            f"codes at {model['frames_per_second']:g} frames/s ({model['bitrate']:.0f} bit/s) and computes in "
            f"{model['dtype']}.")


def render_html(report: Report) -> str:
    """report.html of one evaluation: the metrics, then each example's input and reconstruction."""
    seconds = sum(u.samples for u in report.utterances) / SAMPLE_RATE
    checkpoint = report.model.get("checkpoint")
    values = {u.name: u.values for u in report.utterances}
    examples = []
    for example in report.examples:
        files = example_files(example.name)
        examples.append(html_report.Listening(
            example.name, len(example.reference) / SAMPLE_RATE, files["figure"],
            [html_report.Clip("input", files["input"]),
             html_report.Clip("reconstruction", files["reconstruction"],
                              html_report.metric_caption(values[example.name]))]))
    return html_report.render(
        f"BigCodec evaluation{f' of {checkpoint}' if checkpoint else ''}",
        [f"{len(report.utterances)} utterances ({seconds:.1f} s), each encoded and decoded on its own. "
         + model_sentence(report.model),
         "Means are over the utterances that have a value; a metric that does not apply to an utterance is "
         "counted as missing, with the reason."],
        metrics_table(report), {**{m: definition(m) for m in report.metrics}, **CODE_DEFINITIONS}, examples,
        [(METRICS_FILE, "means, counts, reasons for missing values, code statistics, the model and the definitions"),
         (UTTERANCES_FILE, "one row per utterance")],
        plots.FIGURE_NOTE)


def write_report(report: Report, output_dir: str) -> None:
    """Write report.html (the listening page), metrics.json, utterances.csv (one row per utterance, empty cells
    where missing, the reasons in `missing`) and, per example, `examples/<name>.input.wav`, `.reconstruction.wav`
    and `.mel.png` (input and reconstruction side by side). A remote `output_dir` (gs://...) is written to a local
    folder first and uploaded file by file at the end, report.html last."""
    with staged.staged_folder(output_dir, last=(html_report.PAGE_FILE,)) as folder:
        with open(os.path.join(folder, METRICS_FILE), "w") as f:
            json.dump(report.summary(), f, indent=1)
        with open(os.path.join(folder, UTTERANCES_FILE), "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["name", "seconds", "frames", *report.metrics, "missing"])
            for u in report.utterances:
                writer.writerow([u.name, f"{u.samples / SAMPLE_RATE:.3f}", u.frames,
                                 *(repr(u.values[m]) if m in u.values else "" for m in report.metrics),
                                 "; ".join(f"{m}: {reason}" for m, reason in u.missing.items())])
        for example in report.examples:
            files = {kind: os.path.join(folder, path) for kind, path in example_files(example.name).items()}
            os.makedirs(os.path.dirname(files["input"]), exist_ok=True)
            sf.write(files["input"], example.reference, SAMPLE_RATE)
            sf.write(files["reconstruction"], example.reconstruction, SAMPLE_RATE)
            plots.save_mel_figure(files["figure"], [("input", example.reference),
                                                    ("reconstruction", example.reconstruction)], example.name)
        html_report.write(os.path.join(folder, html_report.PAGE_FILE), render_html(report))
