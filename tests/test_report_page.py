"""The listening page `bigcodec evaluate` writes (report.html), opened from disk in headless Chromium as a person
would: every player has a playable wav of the right duration, every picture shows, and the table says what
metrics.json says. The figures themselves: axes, shared colour scale, colour bar."""
import html
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

import browser
from bigcodec_jax import data
from bigcodec_jax.data.decode import read_file
from bigcodec_jax.evaluation import plots
from conftest import reference_path

BIGCODEC = os.path.join(os.path.dirname(sys.executable), "bigcodec")
SPEECH = "heldout/041_en-us_f2_s174_p52.flac"
SECONDS = {"speech.wav": 1.0, "short.wav": 0.5}


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    """The output folder of `bigcodec evaluate` (the official debug model, fast metrics) on two utterances."""
    root = tmp_path_factory.mktemp("page")
    speech = read_file(os.path.join(data.corpus_dir(), SPEECH))
    os.makedirs(root / "in")
    sf.write(root / "in" / "speech.wav", speech[8000:24000], 16000)
    sf.write(root / "in" / "short.wav", speech[30000:38000], 16000)
    result = subprocess.run([BIGCODEC, "evaluate", "--checkpoint", reference_path("official_debug.pt"),
                             "--data", str(root / "in"), "--output", str(root / "eval"), "--metrics", "fast",
                             "--examples", "2"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return root / "eval"


@browser.needs_chromium
def test_every_player_plays_and_every_picture_shows(evaluated):
    screenshot = evaluated / "screenshot.png"
    found = browser.check_page(evaluated / "report.html", screenshot)
    assert len(found["audio"]) == 4  # two utterances: input and reconstruction each
    for audio in found["audio"]:
        assert audio["error"] is None and audio["readyState"] >= 1 and audio["canPlayWav"], audio
        name = "short.wav" if "short" in audio["src"] else "speech.wav"
        assert audio["duration"] == pytest.approx(SECONDS[name], abs=1e-3), audio
    assert len(found["images"]) == 2
    for image in found["images"]:
        with Image.open(evaluated / "examples" / os.path.basename(image["src"])) as png:
            assert (image["naturalWidth"], image["naturalHeight"]) == png.size, image
    with Image.open(screenshot) as shot:
        assert shot.size[0] == browser.WIDTH and shot.size[1] == found["height"] > 1000


@browser.needs_chromium
def test_the_check_sees_a_missing_wav_and_a_missing_picture(evaluated, tmp_path):
    broken = tmp_path / "eval"
    shutil.copytree(evaluated, broken)
    os.remove(broken / "examples" / "short.reconstruction.wav")
    os.remove(broken / "examples" / "short.mel.png")
    found = browser.check_page(broken / "report.html", tmp_path / "shot.png")
    failed = [a["src"].rsplit("/", 1)[-1] for a in found["audio"] if a["error"] is not None]
    assert failed == ["short.reconstruction.wav"]
    assert [i["src"].rsplit("/", 1)[-1] for i in found["images"] if i["naturalWidth"] == 0] == ["short.mel.png"]


def test_page_links_only_files_beside_it_and_shows_the_metrics(evaluated):
    page = (evaluated / "report.html").read_text()
    links = [html.unescape(s) for s in re.findall(r'(?:src|href)="([^"]+)"', page)]
    assert len(links) == 2 * 3 + 2  # per utterance 2 wavs and a figure; metrics.json and utterances.csv
    for link in links:
        assert not re.match(r"^[a-z]+:|^/", link), f"{link} is not relative"
        assert (evaluated / link).is_file(), link
    summary = json.loads((evaluated / "metrics.json").read_text())
    for metric, mean in summary["means"].items():
        assert f"<tr><td>{metric}</td>" in page and f'<td class="number">{mean:.3f}</td>' in page
        assert f"<dt>{metric}</dt>" in page  # and its definition
    assert "<audio controls" in page and "<script" not in page


def test_figure_panels_share_one_colour_scale_with_a_bar():
    t = np.arange(16000) / 16000
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    figure = plots.mel_figure([("input", tone), ("untrained", 0.001 * tone), ("trained", tone)], "a tone")
    panels = [ax for ax in figure.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["input", "untrained", "trained"]
    assert all(ax.get_xlabel() == "time (s)" for ax in panels)
    assert panels[0].get_ylabel() == "frequency (Hz, mel scale)"
    meshes = [ax.collections[0] for ax in panels]
    assert len({m.get_clim() for m in meshes}) == 1  # one colour scale: the 80 dB under the loudest peak
    low, high = meshes[0].get_clim()
    assert high - low == plots.DYNAMIC_RANGE_DB and high == pytest.approx(meshes[0].get_array().max())
    peak = [float(m.get_array().max()) for m in meshes]
    assert peak[0] == peak[2] and peak[0] - peak[1] == pytest.approx(60.0, abs=0.01)  # 0.001 x = -60 dB
    bar = next(ax for ax in figure.axes if not ax.get_title())
    assert bar.get_ylabel() == "log-mel magnitude (dB)"
    assert panels[0].get_xlim()[1] == pytest.approx(1.0, abs=0.02)  # seconds


def test_mel_comparison_image_for_tensorboard():
    noise = np.random.default_rng(0).standard_normal(8000).astype(np.float32) * 0.1
    image = plots.mel_comparison_image(noise, noise)
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    assert image.shape[0] == plots.PANEL_INCHES[1] * plots.DPI and image.std() > 10
