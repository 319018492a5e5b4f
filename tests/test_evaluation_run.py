"""`evaluation.evaluate`, `write_report` and the `python -m bigcodec_jax.evaluate` CLI with a tiny random codec."""
import csv
import json
import math
import os
import shutil
import sys

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from bigcodec_jax import BigCodec, data, errors, evaluation
from bigcodec_jax.checkpoints import pretrained
from bigcodec_jax.data.decode import read_file
from bigcodec_jax import evaluate as cli

SPEECH = "heldout/041_en-us_f2_s174_p52.flac"
EXPECTED_COLUMNS = ["name", "seconds", "frames", *evaluation.ALL_METRICS, "missing", "example"]


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
    stems = [r["example"] for r in rows[:2]]  # the first (shortest) two
    assert stems == [os.path.splitext(r["name"])[0] for r in rows[:2]] and rows[2]["example"] == ""
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


def _read_rows(path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_examples_whose_names_flatten_alike_keep_their_own_files(tmp_path):
    """`a/b.wav`, `a_b.wav`, `A_b.flac` and a second `a_b.wav` (file lists name files by their base name) shared
    examples/a_b.* (issue 28): each now has its own files, and the CSV and the page say whose they are."""
    names = ["a/b.wav", "a_b.wav", "A_b.flac", "a_b.wav", "c.wav"]
    examples = [evaluation.Example(name, np.full(800 * (i + 1), 0.1 * (i + 1), np.float32),
                                   np.full(800 * (i + 1), -0.1 * (i + 1), np.float32)) for i, name in enumerate(names)]
    utterances = [evaluation.UtteranceResult(name, 800 * (i + 1), 4 * (i + 1), {"si_sdr": float(i)}, {})
                  for i, name in enumerate(names)]
    report = evaluation.Report(("si_sdr",), utterances, evaluation.CodeStatistics(0.5, 2.0, [0.5], [2.0], 10, 1280.0),
                               {"parameters": 1, "num_quantizers": 1, "codebook_size": 2, "frames_per_second": 80.0,
                                "bitrate": 80.0, "dtype": "float32"}, examples[:4])
    evaluation.write_report(report, str(tmp_path))
    rows = _read_rows(tmp_path / "utterances.csv")
    stems = [r["example"] for r in rows]
    assert [r["name"] for r in rows] == names and stems[4] == ""
    assert len({s.casefold() for s in stems[:4]}) == 4  # distinct even on a case-insensitive file system
    assert stems[0] == "a_b" and len(os.listdir(tmp_path / "examples")) == 4 * 3
    page = (tmp_path / "report.html").read_text()
    for i, stem in enumerate(stems[:4]):
        reference, _ = sf.read(tmp_path / "examples" / f"{stem}.input.wav", dtype="float32")
        reconstruction, _ = sf.read(tmp_path / "examples" / f"{stem}.reconstruction.wav", dtype="float32")
        np.testing.assert_allclose(reference, examples[i].reference, atol=1e-4)
        np.testing.assert_allclose(reconstruction, examples[i].reconstruction, atol=1e-4)
        # the page shows each utterance's own files and metrics under its name
        section = page.split('<section class="example">')[i + 1]
        assert f"<h3>{names[i]} " in section and f"examples/{stem}.input.wav" in section
        assert f"examples/{stem}.mel.png" in section and f"si_sdr {float(i):.3g}" in section


def _old_evaluation(folder) -> None:
    """What an earlier evaluation left in `folder`: its files and an example of an utterance no longer there."""
    (folder / "examples").mkdir(parents=True)
    for name in ("report.html", "metrics.json", "utterances.csv", "examples/old.input.wav"):
        (folder / name).write_text("earlier evaluation")


def test_an_earlier_evaluation_is_refused_before_any_work_or_replaced_whole(codec, folder, tmp_path, monkeypatch,
                                                                            capsys):
    """Issue 28: a second evaluate replaced report.html, metrics.json and utterances.csv unasked and left the
    old examples/ beside the new ones."""
    out = tmp_path / "eval"
    _old_evaluation(out)

    def refuse(*args, **kwargs):
        raise AssertionError("work started before the output was checked")

    monkeypatch.setattr(pretrained, "load", refuse)
    monkeypatch.setattr(data, "read_eval_set", refuse)
    (tmp_path / "model.pt").write_bytes(b"never read: the output is checked first")
    args = ["--checkpoint", str(tmp_path / "model.pt"), "--data", folder, "--output", str(out)]
    assert cli.main(args) == errors.USAGE
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: argument --output:") and "--overwrite" in err and len(err.splitlines()) == 1
    assert (out / "metrics.json").read_text() == "earlier evaluation"
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")  # not an evaluation: never replaced, even with --overwrite
    for extra in ([], ["--overwrite"]):
        assert cli.main(args[:-1] + [str(tmp_path / "mine")] + extra) == errors.USAGE
        assert "notes.txt" in capsys.readouterr().err
    assert os.listdir(tmp_path / "mine") == ["notes.txt"]

    monkeypatch.undo()
    monkeypatch.setattr(BigCodec, "random", classmethod(lambda cls, variant, dtype: codec))
    assert cli.main(["--checkpoint", "random:tiny_train", "--data", folder, "--output", str(out), "--examples", "1",
                     "--metrics", "fast", "--overwrite"]) == errors.OK
    assert json.loads((out / "metrics.json").read_text())["utterances"] == 3
    [example] = [r["example"] for r in _read_rows(out / "utterances.csv") if r["example"]]
    assert sorted(os.listdir(out / "examples")) == sorted(f"{example}.{kind}" for kind in (
        "input.wav", "reconstruction.wav", "mel.png"))  # the old example is gone
    assert sorted(os.listdir(out)) == ["examples", "metrics.json", "report.html", "utterances.csv"]


def test_unreadable_inputs_are_named_counted_and_exit_1(codec, folder, tmp_path, monkeypatch, capsys):
    """Issue 28: 3 of 4 inputs unreadable gave exit 0 and a report of "1 utterances" that did not mention them."""
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    shutil.copy(os.path.join(folder, "speech.wav"), mixed / "speech.wav")
    (mixed / "text.wav").write_text("not audio")
    (mixed / "empty.flac").write_bytes(b"")
    sf.write(mixed / "truncated.wav", np.zeros(4000, np.float32), 16000)
    (mixed / "truncated.wav").write_bytes((mixed / "truncated.wav").read_bytes()[:30])
    monkeypatch.setattr(BigCodec, "random", classmethod(lambda cls, variant, dtype: codec))
    out = tmp_path / "eval"
    status = cli.main(["--checkpoint", "random:tiny_train", "--data", str(mixed), "--output", str(out),
                       "--metrics", "fast"])
    assert status == errors.FAILED
    stdout = capsys.readouterr().out
    assert "evaluate: 1 utterances measured, 3 unreadable (empty.flac, text.wav, truncated.wav)" in stdout
    summary = json.loads((out / "metrics.json").read_text())
    assert summary["utterances"] == 1 and summary["unreadable"] == 3
    assert sorted(summary["unreadable_inputs"]) == ["empty.flac", "text.wav", "truncated.wav"]
    assert all(summary["unreadable_inputs"].values())  # each with its reason
    assert [r["name"] for r in _read_rows(out / "utterances.csv")] == ["speech.wav"]
    page = (out / "report.html").read_text()
    assert "3 inputs could not be read" in page
    assert all(name in page for name in summary["unreadable_inputs"])


def test_data_none_of_which_is_readable_is_an_input_error(tmp_path, capsys, monkeypatch):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "text.wav").write_text("not audio")
    monkeypatch.setattr(pretrained, "load", lambda *a, **k: pytest.fail("the model was loaded"))
    (tmp_path / "model.pt").write_bytes(b"never read: the data is checked first")
    assert cli.main(["--checkpoint", str(tmp_path / "model.pt"), "--data", str(tmp_path / "in"),
                     "--output", str(tmp_path / "eval")]) == errors.FAILED
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: data.eval: no readable utterance") and "1 unreadable: text.wav" in err
