"""`python -m bigcodec_jax.demo` with a few steps: the report page's files and numbers before and after training
(and the page in headless Chromium), and the trainer's held-out evaluation (`eval/...` scalars in TensorBoard)."""
import glob
import html
import json
import os
import re
import shutil
import struct

import pytest
from tensorboardX.proto import event_pb2

import browser
from bigcodec_jax import demo, evaluation
from bigcodec_jax.configs import small
from bigcodec_jax.io import paths

STEPS = 3


@pytest.fixture(scope="module")
def output(tmp_path_factory):
    """The demo's output folder after `--steps 3`, its training evaluating the held-out set after every step."""
    out = tmp_path_factory.mktemp("demo")
    preset = small.get_config

    def evaluating_every_step():
        config = preset()
        config.eval_every_steps = 1
        return config

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(small, "get_config", evaluating_every_step)
        assert demo.main(["--steps", str(STEPS), "--output", str(out)]) == 0
    return out


def _scalars(logdir: str) -> dict[str, dict[int, float]]:
    """{tag: {step: value}} of the TensorBoard event files in `logdir` (TFRecord framing, Event protos)."""
    scalars: dict[str, dict[int, float]] = {}
    for path in glob.glob(os.path.join(logdir, "events.out.tfevents.*")):
        with open(path, "rb") as f:
            content = f.read()
        offset = 0
        while offset < len(content):
            (length,) = struct.unpack("<Q", content[offset:offset + 8])
            event = event_pb2.Event.FromString(content[offset + 12:offset + 12 + length])  # after length + its CRC
            offset += 12 + length + 4
            for value in event.summary.value:
                scalars.setdefault(value.tag, {})[event.step] = value.simple_value
    return scalars


def test_report_shows_metrics_before_and_after_training(output):
    summaries = {stage: json.load(open(output / stage / "metrics.json")) for stage in demo.STAGES}
    for summary in summaries.values():
        assert summary["utterances"] == 6  # the packaged corpus's held-out part
        assert set(summary["means"]) == set(evaluation.ALL_METRICS)
        assert summary["means"]["mel_distance"] > 0
    page = (output / "report.html").read_text()
    for metric in evaluation.ALL_METRICS:
        row = re.search(rf"<tr><td>{metric}</td>(.*?)</tr>", page).group(1)
        numbers = [float(x) for x in re.findall(r'<td class="number">(-?\d+\.\d+)</td>', row)]
        assert numbers == pytest.approx([summaries[s]["means"][metric] for s in demo.STAGES], abs=1e-3)
    assert f"{STEPS} training steps" in page
    links = [html.unescape(link) for link in re.findall(r'(?:src|href)="([^"]+)"', page)]
    assert sum(link.endswith(".mel.png") for link in links) == 6  # per utterance: input, untrained and trained
    assert sum(link.endswith(".wav") for link in links) == 18  # side by side, and a player each
    for link in links:
        assert (output / link).is_file(), link


@browser.needs_chromium
def test_report_page_plays_in_chromium(output):
    found = browser.check_page(output / "report.html", output / "screenshot.png")
    assert len(found["audio"]) == 18 and len(found["images"]) == 6
    for audio in found["audio"]:
        assert audio["error"] is None and audio["readyState"] >= 1 and 0.5 < audio["duration"] < 10, audio
    for image in found["images"]:
        assert image["naturalWidth"] > 1000, image  # three panels and a colour bar


def test_training_logs_heldout_metrics(output):
    assert os.path.isdir(output / "workdir" / "checkpoints" / str(STEPS))
    scalars = _scalars(str(output / "workdir" / "tensorboard"))
    for name in (*evaluation.FAST_METRICS, "codebook_usage", "code_perplexity"):
        assert sorted(scalars[f"eval/{name}"]) == list(range(1, STEPS + 1))
    trained = json.load(open(output / "trained" / "metrics.json"))["means"]
    assert scalars["eval/mel_distance"][STEPS] == pytest.approx(trained["mel_distance"], rel=1e-4)


def test_steps_must_be_positive(capsys):
    assert demo.main(["--steps", "0"]) == 2
    assert capsys.readouterr().err.startswith("error: argument --steps: must be a positive integer")


def test_demo_writes_to_gs(output, gcs_dir, capsys, monkeypatch):
    """--output gs://...: the report uploaded there, every link resolving (the module's finished run continued,
    so nothing is trained again, and measured with one metric, which is enough for the files)."""
    remote = paths.join(gcs_dir, "demo")
    monkeypatch.setattr(evaluation, "ALL_METRICS", ("mel_distance",))
    assert demo.main(["--steps", str(STEPS), "--output", remote, "--workdir", str(output / "workdir")]) == 0
    assert f"report (open it in a browser): {remote}/report.html" in capsys.readouterr().out
    written = {relative for _, relative in paths.list_files(remote)}
    assert {"report.html", "untrained/metrics.json", "trained/report.html"} <= written
    page = paths.read_text(paths.join(remote, "report.html"))
    links = [html.unescape(link) for link in re.findall(r'(?:src|href)="([^"]+)"', page)]
    assert len(links) == 6 + 18 + 2 and set(links) <= written


def test_a_rerun_replaces_its_own_evaluations(output, tmp_path, capsys, monkeypatch):
    """A second demo into the same folder (a copy of the module's: its run finished, nothing is trained again)
    replaces untrained/ and trained/ whole, which an evaluation into a non-empty folder refuses without
    overwrite (issue 28); a stage folder holding anything else is refused before any work."""
    output = shutil.copytree(output, tmp_path / "demo")
    (output / "trained" / "examples" / "stale.input.wav").write_bytes(b"an earlier run's example")
    monkeypatch.setattr(evaluation, "ALL_METRICS", ("mel_distance",))
    assert demo.main(["--steps", str(STEPS), "--output", str(output)]) == 0
    assert not (output / "trained" / "examples" / "stale.input.wav").exists()
    assert list(json.loads((output / "untrained" / "metrics.json").read_text())["means"]) == ["mel_distance"]
    (output / "untrained" / "notes.txt").write_text("mine")
    assert demo.main(["--steps", str(STEPS), "--output", str(output)]) == 2
    assert "notes.txt" in capsys.readouterr().err and (output / "untrained" / "notes.txt").read_text() == "mine"
