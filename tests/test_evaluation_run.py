"""`evaluation.evaluate`, `write_report` and the `python -m bigcodec_jax.evaluate` CLI with a tiny random codec."""
import csv
import json
import math
import os
import sys

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from bigcodec_jax import BigCodec, data, evaluation
from bigcodec_jax.data.decode import read_file
from bigcodec_jax import evaluate as cli

SPEECH = "heldout/041_en-us_f2_s174_p52.flac"
EXPECTED_COLUMNS = ["name", "seconds", "frames", *evaluation.ALL_METRICS, "missing"]


@pytest.fixture(scope="module")
def codec() -> BigCodec:
    return BigCodec.random("tiny_train")


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> str:
    """1 s of speech, 0.1 s of speech (too short for PESQ and STOI) and 0.5 s of silence."""
    root = tmp_path_factory.mktemp("utterances")
    speech = read_file(os.path.join(data.corpus_dir(), SPEECH))
    sf.write(root / "speech.wav", speech[8000:24000], 16000)
    sf.write(root / "short.wav", speech[12000:13600], 16000)
    sf.write(root / "silence.wav", np.zeros(8000, np.float32), 16000)
    return str(root)


@pytest.fixture(scope="module")
def batches(folder):
    return data.eval_utterances(cli.data_config(folder, max_utterances=0, batch_size=8, tfds_data_dir=None))


def test_evaluate_measures_every_utterance_and_says_what_is_missing(codec, batches):
    report = evaluation.evaluate(codec, batches, evaluation.ALL_METRICS, examples=1)
    by_name = {u.name: u for u in report.utterances}
    assert sorted(by_name) == ["short.wav", "silence.wav", "speech.wav"]
    for u in report.utterances:
        assert u.frames == math.ceil(u.samples / codec.hop_length)
        assert set(u.values) | set(u.missing) == set(evaluation.ALL_METRICS)
        assert not set(u.values) & set(u.missing)
    assert by_name["speech.wav"].missing == {}
    assert set(by_name["short.wav"].missing) == {"pesq_wb", "pesq_nb", "stoi"}
    assert set(by_name["silence.wav"].missing) == {"pesq_wb", "pesq_nb", "stoi", "si_sdr"}
    assert report.missing_reasons()["si_sdr"] == {"the reference is silent (peak below -80 dBFS)": 1}
    assert report.counts() == {"mel_distance": 3, "mcd": 3, "si_sdr": 2, "stoi": 1, "pesq_wb": 1, "pesq_nb": 1}
    assert report.means()["si_sdr"] == pytest.approx(
        np.mean([by_name["speech.wav"].values["si_sdr"], by_name["short.wav"].values["si_sdr"]]))
    # An untrained codec: far from its input, but every score is a real number in its range.
    assert 1.0 <= report.means()["pesq_wb"] < 2.0 and 0.0 <= report.means()["stoi"] < 0.8
    assert report.means()["mel_distance"] > 1.0
    assert report.codes.frames == sum(u.frames for u in report.utterances)
    assert 0 < report.codes.usage <= 1 and 1 <= report.codes.perplexity <= codec.codebook_size
    assert report.codes.bitrate == 8 * 2 * 80  # log2(256) bits x 2 quantisers x 80 frames/s
    [example] = report.examples
    assert example.name == report.utterances[0].name
    assert example.reconstruction.shape == example.reference.shape
    assert set(report.scalars()) == set(evaluation.ALL_METRICS) | {"codebook_usage", "code_perplexity"}


def test_evaluate_defaults_to_the_fast_metrics(codec, batches):
    report = evaluation.evaluate(codec, batches)
    assert report.metrics == evaluation.FAST_METRICS == ("mel_distance", "si_sdr", "stoi")
    assert report.examples == []
    with pytest.raises(ValueError, match="unknown"):
        evaluation.evaluate(codec, batches, ["nonsense"])


def test_without_pesq_the_report_says_why_and_how_to_install_it(codec, batches, monkeypatch):
    monkeypatch.setitem(sys.modules, "pesq", None)  # `import pesq` fails as it does when pesq is not installed
    report = evaluation.evaluate(codec, batches, ["pesq_wb", "pesq_nb", "mel_distance"])
    reason = "the pesq package is not installed: pip install 'bigcodec-jax[eval]'"
    assert report.missing_reasons() == {"pesq_wb": {reason: 3}, "pesq_nb": {reason: 3}}
    assert report.means()["pesq_wb"] is None and report.counts()["mel_distance"] == 3


def test_cli_writes_metrics_table_and_examples(codec, folder, tmp_path, monkeypatch):
    made = []
    monkeypatch.setattr(BigCodec, "random", classmethod(lambda cls, variant, dtype: made.append(variant) or codec))
    out = tmp_path / "eval"
    assert cli.main(["--checkpoint", "random:tiny_train", "--data", folder, "--output", str(out),
                     "--examples", "2"]) == 0
    assert made == ["tiny_train"]

    summary = json.loads((out / "metrics.json").read_text())
    assert summary["utterances"] == 3
    assert set(summary["means"]) == set(summary["counts"]) == set(summary["definitions"]) == set(
        evaluation.ALL_METRICS)
    assert summary["counts"]["pesq_wb"] == 1 and summary["counts"]["mel_distance"] == 3
    assert summary["missing"]["pesq_wb"] == {"shorter than the 0.25 s PESQ needs": 1,
                                             "the reference is silent (peak below -80 dBFS)": 1}
    assert summary["model"]["checkpoint"] == "random:tiny_train" and summary["model"]["bitrate"] == 1280
    assert summary["codes"]["bitrate"] == 1280 and 0 < summary["codes"]["usage"] <= 1

    with open(out / "utterances.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == EXPECTED_COLUMNS
    by_name = {r["name"]: r for r in rows}
    assert by_name["silence.wav"]["stoi"] == "" and "stoi: the reference is silent" in by_name["silence.wav"]["missing"]
    assert float(by_name["speech.wav"]["pesq_wb"]) >= 1.0 and by_name["speech.wav"]["missing"] == ""
    assert by_name["speech.wav"]["seconds"] == "1.000" and by_name["speech.wav"]["frames"] == "80"

    written = sorted(os.listdir(out / "examples"))
    stems = [evaluation.report.example_stem(r["name"]) for r in rows[:2]]  # the first (shortest) two
    assert written == sorted(f"{s}.{kind}" for s in stems for kind in ("input.wav", "reconstruction.wav", "mel.png"))
    assert (out / "report.html").is_file()  # what it shows: test_report_page.py
    for stem in stems:
        reference, rate = sf.read(out / "examples" / f"{stem}.input.wav")
        reconstruction, _ = sf.read(out / "examples" / f"{stem}.reconstruction.wav")
        assert rate == 16000 and reference.shape == reconstruction.shape
        with Image.open(out / "examples" / f"{stem}.mel.png") as figure:
            assert figure.format == "PNG" and figure.size[0] > 900


@pytest.mark.parametrize("spec, source, path, split", [
    ("corpus", "corpus", "", "test"),
    ("tfds:librispeech:test_clean", "tfds:librispeech", "", "test_clean"),
    ("lists/eval.txt", "list", "lists/eval.txt", "test"),
])
def test_data_spec_picks_the_source(spec, source, path, split):
    ev = cli.data_config(spec, max_utterances=5, batch_size=2, tfds_data_dir=None).eval
    assert (ev.source, ev.path, ev.split, ev.max_utterances, ev.batch_size) == (source, path, split, 5, 2)


@pytest.mark.parametrize("option, value, message", [("--data", "tfds:librispeech", "tfds:<name>:<split>"),
                                                     ("--metrics", "pesq,stoi", "unknown or no metrics ['pesq']")])
def test_bad_data_or_metrics_are_usage_errors(option, value, message, tmp_path, capsys):
    args = {"--checkpoint": "random:tiny_train", "--data": "corpus", "--output": str(tmp_path), option: value}
    assert cli.main([word for pair in args.items() for word in pair]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and len(err.splitlines()) == 1


def test_help_explains_every_option_and_metric(capsys):
    assert cli.main(["--help"]) == 0
    text = capsys.readouterr().out
    for word in ("--checkpoint", "--data", "--output", "--metrics", "--examples", "random:<variant>",
                 "metrics.json", "utterances.csv", *evaluation.ALL_METRICS):
        assert word in text
