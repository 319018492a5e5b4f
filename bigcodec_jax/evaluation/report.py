"""The result of an evaluation and how it is written: report.html, metrics.json, utterances.csv, example wavs
and pictures."""
from __future__ import annotations

import collections
import csv
import dataclasses
import json
import os
import shutil
import tempfile
from typing import Any, Sequence

import numpy as np
import soundfile as sf

from bigcodec_jax.audio import SAMPLE_RATE
from bigcodec_jax.evaluation import html_report, plots
from bigcodec_jax.evaluation.code_statistics import CODE_DEFINITIONS, CodeStatistics
from bigcodec_jax.evaluation.metrics import LOWER_IS_BETTER, definition
from bigcodec_jax.io import paths, staged

METRICS_FILE = "metrics.json"
UTTERANCES_FILE = "utterances.csv"
EXAMPLES_DIR = "examples"
OUTPUTS = (html_report.PAGE_FILE, METRICS_FILE, UTTERANCES_FILE, EXAMPLES_DIR)  # an evaluation, all it writes


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
    """An utterance kept whole for listening and pictures: input and reconstruction as measured (16 kHz
    float32), and, from a codec that decodes at another rate, its own output at `listening_rate`, which
    the report plays instead of the 16 kHz reconstruction."""

    name: str
    reference: np.ndarray
    reconstruction: np.ndarray
    listening: np.ndarray | None = None
    listening_rate: int = SAMPLE_RATE


@dataclasses.dataclass
class Report:
    """Everything an evaluation measured; `model` describes the codec (the CLI adds the checkpoint).

    `examples` are the first utterances kept whole: `examples[i]` is `utterances[i]`. `unreadable` names the
    inputs that could not be read, `{name: reason}` (`data.read_eval_set`): they are in no number, so the
    report names and counts them."""

    metrics: tuple[str, ...]
    utterances: list[UtteranceResult]
    codes: CodeStatistics
    model: dict[str, Any]
    examples: list[Example]
    unreadable: dict[str, str] = dataclasses.field(default_factory=dict)

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
            "unreadable": len(self.unreadable),
            "unreadable_inputs": self.unreadable,
            "means": self.means(),
            "counts": self.counts(),
            "missing": self.missing_reasons(),
            "codes": dataclasses.asdict(self.codes),
            "model": self.model,
            "definitions": {m: definition(m) for m in self.metrics},
        }


def example_stems(names: Sequence[str]) -> list[str]:
    """A flat file-name stem per utterance name (names may hold folders and an extension), unique even where
    names flatten alike (`a/b.wav`, `a_b.wav`, `a_b.flac`) or are equal, also on a case-insensitive file
    system: a repeated stem gets `-2`, `-3`, ... in order. utterances.csv and the page say whose each is."""
    stems, used = [], set()
    for name in names:
        stem = base = os.path.splitext(name)[0].replace("/", "_").replace(os.sep, "_")
        copy = 1
        while stem.casefold() in used:
            copy += 1
            stem = f"{base}-{copy}"
        used.add(stem.casefold())
        stems.append(stem)
    return stems


def example_files(stem: str) -> dict[str, str]:
    """The files of the example with the stem `stem` (`example_stems`), relative to the output folder: input,
    reconstruction and figure."""
    stem = os.path.join(EXAMPLES_DIR, stem)
    return {"input": f"{stem}.input.wav", "reconstruction": f"{stem}.reconstruction.wav", "figure": f"{stem}.mel.png"}


def _names(entries: Sequence[str]) -> str:
    return ", ".join(entries[:5]) + (f" and {len(entries) - 5} more" if len(entries) > 5 else "")


def check_output(folder: str, overwrite: bool = False) -> list[str]:
    """The entries of `folder` that `write_report(report, folder, overwrite)` replaces; FileExistsError unless it
    may write there: `folder` is missing or empty, or, with `overwrite`, holds an earlier evaluation and nothing
    else, which is then replaced whole (examples/ too, so the folder never mixes two runs). Nothing an
    evaluation does not write is ever deleted. Hidden entries (`.name`) are left alone and not counted."""
    if not paths.isdir(folder):
        return []
    present = [name for name in paths.listdir(folder) if not name.startswith(".")]
    foreign = [name for name in present if name not in OUTPUTS]
    if present and not overwrite:
        raise FileExistsError(f"{folder} is not empty: it holds {_names(present)}; " + (
            "choose another folder" if foreign else "pass --overwrite (overwrite=True) to replace that evaluation"))
    if foreign:
        raise FileExistsError(f"{folder} holds {_names(foreign)}, which an evaluation does not write: refusing to "
                              "replace them; choose another folder")
    return present


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


FAMILY_NAMES = {"bigcodec": "BigCodec", "xcodec2": "X-Codec2", "neucodec": "NeuCodec"}


def _family(model: dict[str, Any]) -> str:
    return model.get("family", "bigcodec")


def model_sentence(model: dict[str, Any]) -> str:
    """What the report says about the codec, in words."""
    codebooks = "one codebook" if model["num_quantizers"] == 1 else f"{model['num_quantizers']} codebooks"
    codes = (f"{codebooks} of {model['codebook_size']} codes at {model['frames_per_second']:g} frames/s "
             f"({model['bitrate']:.0f} bit/s)")
    if _family(model) == "bigcodec":
        return f"The codec has {model['parameters']:,} generator parameters, {codes} and computes in {model['dtype']}."
    return (f"The {FAMILY_NAMES[_family(model)]} codec has {model['parameters']:,} parameters (its semantic encoder "
            f"included), {codes}, encodes {model['sample_rate'] / 1000:g} kHz audio, decodes at "
            f"{model['output_sample_rate'] / 1000:g} kHz and computes in {model['dtype']}.")


def rate_sentence(model: dict[str, Any]) -> list[str]:
    """How a reconstruction at another rate than the input's is measured (nothing for a 16 kHz decoder)."""
    rate, output = model.get("sample_rate", SAMPLE_RATE) / 1000, model.get("output_sample_rate", SAMPLE_RATE) / 1000
    if rate == output:
        return []
    return [f"The decoder's {output:g} kHz output is resampled to the input's {rate:g} kHz (band-limited, as "
            f"bigcodec_jax.audio.resample) before every metric and picture, so that each compares like with like; "
            f"the reconstructions played below are the decoder's own {output:g} kHz output. Where the codes stop "
            "short of the input's end, the missing tail counts as silence."]


def render_html(report: Report) -> str:
    """report.html of one evaluation: the metrics, then each example's input and reconstruction."""
    seconds = sum(u.samples for u in report.utterances) / SAMPLE_RATE
    checkpoint = report.model.get("checkpoint")
    examples = []
    for example, utterance, stem in zip(report.examples, report.utterances,
                                        example_stems([e.name for e in report.examples])):
        files = example_files(stem)
        examples.append(html_report.Listening(
            example.name, len(example.reference) / SAMPLE_RATE, files["figure"],
            [html_report.Clip("input", files["input"]),
             html_report.Clip("reconstruction", files["reconstruction"],
                              html_report.metric_caption(utterance.values))]))
    unreadable = [f"{len(report.unreadable)} inputs could not be read and are left out of every number: "
                  + "; ".join(f"{name} ({reason})" for name, reason in report.unreadable.items()) + "."
                  ] if report.unreadable else []
    return html_report.render(
        f"{FAMILY_NAMES[_family(report.model)]} evaluation{f' of {checkpoint}' if checkpoint else ''}",
        [f"{len(report.utterances)} utterances ({seconds:.1f} s), each encoded and decoded on its own. "
         + model_sentence(report.model), *rate_sentence(report.model), *unreadable,
         "Means are over the utterances that have a value; a metric that does not apply to an utterance is "
         "counted as missing, with the reason."],
        metrics_table(report), {**{m: definition(m) for m in report.metrics}, **CODE_DEFINITIONS}, examples,
        [(METRICS_FILE, "means, counts, reasons for missing values, code statistics, the model and the definitions"),
         (UTTERANCES_FILE, "one row per utterance")],
        plots.FIGURE_NOTE)


def write_report(report: Report, output_dir: str, overwrite: bool = False) -> None:
    """Write report.html (the listening page), metrics.json, utterances.csv (one row per utterance, empty cells
    where missing, the reasons in `missing`, the stem of its example files in `example`) and, per example,
    `examples/<stem>.input.wav`, `.reconstruction.wav` (at the decoder's rate) and `.mel.png` (input and
    reconstruction at 16 kHz side by side).

    An earlier evaluation in `output_dir` is replaced whole with `overwrite`, once the new one is written, and
    anything else there is refused (`check_output`). A remote `output_dir` (gs://...) is written to a local
    folder first and uploaded file by file at the end, report.html last."""
    replaced = check_output(output_dir, overwrite)
    with staged.staged_folder(output_dir, last=(html_report.PAGE_FILE,)) as folder:
        staging = tempfile.mkdtemp(dir=folder, prefix=".partial-")
        try:
            _write_files(report, staging)
            for name in replaced:
                path = paths.join(output_dir, name)
                (paths.remove_folder if paths.isdir(path) else paths.remove)(path)
            for name in sorted(os.listdir(staging), key=lambda name: name == html_report.PAGE_FILE):
                os.replace(os.path.join(staging, name), os.path.join(folder, name))
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _write_files(report: Report, folder: str) -> None:
    with open(os.path.join(folder, METRICS_FILE), "w") as f:
        json.dump(report.summary(), f, indent=1)
    stems = example_stems([e.name for e in report.examples])
    with open(os.path.join(folder, UTTERANCES_FILE), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["name", "seconds", "frames", *report.metrics, "missing", "example"])
        for i, u in enumerate(report.utterances):
            writer.writerow([u.name, f"{u.samples / SAMPLE_RATE:.3f}", u.frames,
                             *(repr(u.values[m]) if m in u.values else "" for m in report.metrics),
                             "; ".join(f"{m}: {reason}" for m, reason in u.missing.items()),
                             stems[i] if i < len(stems) else ""])
    for example, stem in zip(report.examples, stems):
        files = {kind: os.path.join(folder, path) for kind, path in example_files(stem).items()}
        os.makedirs(os.path.dirname(files["input"]), exist_ok=True)
        sf.write(files["input"], example.reference, SAMPLE_RATE)
        if example.listening is None:
            sf.write(files["reconstruction"], example.reconstruction, SAMPLE_RATE)
        else:
            sf.write(files["reconstruction"], example.listening, example.listening_rate)
        plots.save_mel_figure(files["figure"], [("input", example.reference),
                                                ("reconstruction", example.reconstruction)], example.name)
    html_report.write(os.path.join(folder, html_report.PAGE_FILE), render_html(report))
