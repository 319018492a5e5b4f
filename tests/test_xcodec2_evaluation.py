"""Evaluation and codes shards with a family checkpoint: a NeuCodec micro model (24 kHz out) end to end.

The model is the committed NeuCodec micro release (`tests/golden/FAMILY.md`) saved as a converted
directory, so that `bigcodec evaluate` loads it as a user's checkpoint. Its golden codes (values up to
63062, past int16) and official 24 kHz reconstructions are the references.
"""
from __future__ import annotations

import csv
import json
import math
import os

import numpy as np
import pytest
import soundfile as sf
from array_record.python.array_record_module import ArrayRecordWriter

from bigcodec_jax import evaluate as evaluate_cli
from bigcodec_jax.checkpoints import store, torch_zip, xcodec2_layout
from bigcodec_jax.codec import config as bigcodec_config
from bigcodec_jax.data import CodesSource
from bigcodec_jax.errors import InputError
from bigcodec_jax.evaluation import measure, runner
from bigcodec_jax.io import codes_files, codes_shards
from bigcodec_jax.xcodec2 import config as config_lib
from conftest import GOLDEN_DIR

CLIPS = (0, 1)  # 1.5 s and 0.83 s (13297 samples: NeuCodec's 41 frames stop 177 samples short of its end)


@pytest.fixture(scope="module")
def golden():
    return np.load(os.path.join(GOLDEN_DIR, "neucodec_micro.npz"))


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """The NeuCodec micro release as a converted directory."""
    state = xcodec2_layout.normalised(torch_zip.load(os.path.join(GOLDEN_DIR, "neucodec_micro.bin")))
    config, params = xcodec2_layout.to_params(state, config_lib.model_config("neucodec", "micro"))
    directory = str(tmp_path_factory.mktemp("neucodec") / "converted")
    store.save(directory, config, {"model": params})
    return directory


@pytest.fixture(scope="module")
def evaluated(converted, golden, tmp_path_factory):
    """`bigcodec evaluate` of the two clips (float wav files, so that the input is the golden one exactly)."""
    folder = tmp_path_factory.mktemp("clips")
    for i in CLIPS:
        sf.write(str(folder / f"clip{i}.wav"), golden[f"wav_{i}"], 16000, subtype="FLOAT")
    output = str(tmp_path_factory.mktemp("eval") / "report")
    status = evaluate_cli.main(["--checkpoint", converted, "--data", str(folder), "--output", output,
                                "--metrics", "si_sdr,mel_distance,mcd", "--examples", "2"])
    assert status == 0
    return output


def test_the_report_records_the_family_and_its_rates(evaluated):
    with open(os.path.join(evaluated, "metrics.json")) as f:
        summary = json.load(f)
    model = summary["model"]
    assert (model["family"], model["sample_rate"], model["output_sample_rate"]) == ("neucodec", 16000, 24000)
    assert (model["frames_per_second"], model["codebook_size"], model["num_quantizers"]) == (50, 65536, 1)
    assert model["bitrate"] == 800  # 50 frames/s x 16 bits
    assert summary["codes"]["frames"] == 75 + 41 and summary["codes"]["bitrate"] == 800
    assert all(math.isfinite(v) for v in summary["means"].values()) and summary["counts"]["si_sdr"] == 2
    page = open(os.path.join(evaluated, "report.html")).read()
    assert "NeuCodec evaluation" in page and "decodes at 24 kHz" in page and "resampled to the input" in page


def test_metrics_compare_the_input_with_the_official_reconstruction_resampled_to_16k(evaluated, golden):
    with open(os.path.join(evaluated, "utterances.csv")) as f:
        rows = {row["name"]: row for row in csv.DictReader(f)}
    for i in CLIPS:
        wav, row = golden[f"wav_{i}"], rows[f"clip{i}.wav"]
        assert int(row["frames"]) == len(golden[f"codes_{i}"])
        want, _ = measure(wav, runner.measured(golden[f"recon_{i}"], len(wav), 24000), ("si_sdr", "mel_distance"))
        assert float(row["si_sdr"]) == pytest.approx(want["si_sdr"], abs=1e-3)
        assert float(row["mel_distance"]) == pytest.approx(want["mel_distance"], rel=1e-4)


def test_examples_play_the_decoders_24k_output(evaluated, golden):
    for i in CLIPS:
        n = len(golden[f"wav_{i}"])
        played, rate = sf.read(os.path.join(evaluated, "examples", f"clip{i}.reconstruction.wav"), dtype="float32")
        assert rate == 24000 and len(played) == min(math.ceil(n * 1.5), len(golden[f"recon_{i}"]))
        reference = golden[f"recon_{i}"][:len(played)]
        assert np.abs(played - reference).max() < 2 / 2 ** 15  # the wav's 16-bit samples: within their rounding
        assert sf.info(os.path.join(evaluated, "examples", f"clip{i}.input.wav")).samplerate == 16000


def test_measured_resamples_and_counts_a_lost_tail_as_silence():
    t = np.arange(2400) / 24000
    tone = np.sin(2 * np.pi * 440 * t).astype(np.float32)
    out = runner.measured(tone, 1700, 24000)  # 2400 samples at 24 kHz are 1600 at 16 kHz: 100 padded
    want = np.sin(2 * np.pi * 440 * np.arange(1600) / 16000)
    assert out.shape == (1700,) and np.all(out[1600:] == 0)
    assert np.abs(out[100:1500] - want[100:1500]).max() < 1e-3  # away from the resampler's edges
    np.testing.assert_array_equal(runner.measured(tone, 2000, 16000), tone[:2000])  # 16 kHz: only cut


def _write_shards(directory: str, records: list[bytes], index: dict) -> None:
    os.makedirs(directory)
    name = codes_shards.shard_name(0, 1)
    writer = ArrayRecordWriter(os.path.join(directory, name), "group_size:1")
    for record in records:
        writer.write(record)
    writer.close()
    index = {"format": codes_shards.FORMAT, "format_version": codes_shards.FORMAT_VERSION, **index,
             "shards": [{"file": name, "records": len(records), "frames": 0, "seconds": 0.0}],
             "records": len(records), "frames": 0, "seconds": 0.0, "failed": []}
    with open(os.path.join(directory, codes_shards.INDEX_FILE), "w") as f:
        json.dump(index, f)


def test_family_shards_record_the_model_and_read_back_the_models_codes(converted, golden, tmp_path):
    codec = evaluate_cli.load_codec(converted, "float32")
    codes = codec.encode_batch([golden[f"wav_{i}"] for i in CLIPS])
    for i, c in zip(CLIPS, codes):
        np.testing.assert_array_equal(c[0], golden[f"codes_{i}"])
    fingerprint = codes_files.fingerprint(codec.params)
    directory = str(tmp_path / "shards")
    records = [codes_shards.encode_record(f"clip{i}.wav", c, len(golden[f"wav_{i}"]), 16000)
               for i, c in zip(CLIPS, codes)]
    _write_shards(directory, records, {**codes_shards.model_fields(codec.config), "fingerprint": fingerprint})
    source = CodesSource(directory, fingerprint=fingerprint)
    assert {k: source.index[k] for k in ("family", "sample_rate", "output_sample_rate", "frame_rate",
                                         "codebook_size", "num_quantizers")} == {
        "family": "neucodec", "sample_rate": 16000, "output_sample_rate": 24000, "frame_rate": 50,
        "codebook_size": 65536, "num_quantizers": 1}
    for k, c in enumerate(codes):
        assert source[k]["codes"].dtype == np.int32
        np.testing.assert_array_equal(source[k]["codes"], c)
    with pytest.raises(InputError, match="made by another model .*neucodec, 1 quantizers of 65536"):
        CodesSource(directory, fingerprint="0" * len(fingerprint))


def test_an_index_without_model_fields_is_read_from_its_config_and_a_foreign_config_refused(tmp_path):
    old = {"config": bigcodec_config.model_config("tiny_train").to_dict(), "fingerprint": "f"}
    _write_shards(str(tmp_path / "old"), [], old)
    index = codes_shards.read_index(str(tmp_path / "old"))
    assert (index["family"], index["output_sample_rate"], index["num_quantizers"]) == ("bigcodec", 16000, 2)
    bad = {"config": {"family": "neucodec", "decoder": "x"}, "fingerprint": "f"}
    _write_shards(str(tmp_path / "bad"), [], bad)
    with pytest.raises(InputError, match="index.json: field 'config' is not a model config"):
        codes_shards.read_index(str(tmp_path / "bad"))
    assert codes_shards.model_fields(config_lib.model_config("xcodec2", "micro"))["output_sample_rate"] == 16000
