"""X-Codec2 and NeuCodec through the batched inference path and `inference.py`: exact against the official code.

Each family's micro model (the committed golden release files, saved once as a converted directory) runs the
golden clips of three lengths: `BatchCodec` gives each clip in one padded batch the official codes and audio,
and `inference.py encode / decode / reconstruct` write the same codes and audio at the family's output rate
(24 kHz for NeuCodec). Codes decoded with another model are refused.
"""
from __future__ import annotations

import pathlib

import numpy as np
import pytest
import soundfile as sf

from bigcodec_jax import errors
from bigcodec_jax.checkpoints import safetensors_format, store, torch_zip, xcodec2_layout
from bigcodec_jax.family_api import XCodec2, load_codec
from bigcodec_jax.inference.batch_codec import BatchCodec
from bigcodec_jax.inference.cli import main
from bigcodec_jax.io import codes_files
from bigcodec_jax.xcodec2 import config as config_lib
from conftest import GOLDEN_DIR as _GOLDEN

GOLDEN_DIR = pathlib.Path(_GOLDEN)
CLIPS = range(3)
RELEASES = {"xcodec2": lambda: safetensors_format.read_tensors(GOLDEN_DIR / "xcodec2_micro.safetensors"),
            "neucodec": lambda: torch_zip.load(GOLDEN_DIR / "neucodec_micro.bin")}
AUDIO_TOLERANCE = 1e-5  # of the reference's peak: float32 rounding (measured about 2e-6)


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> dict[str, pathlib.Path]:
    """Each family's golden micro model as a converted directory (what `--checkpoint` and `load_codec` read)."""
    directories = {}
    for family, read in RELEASES.items():
        config = config_lib.model_config(family, "micro")
        _, params = xcodec2_layout.to_params(xcodec2_layout.normalised(read()), config)
        directories[family] = tmp_path_factory.mktemp(family) / "model"
        store.save(directories[family], config, {"model": params})
    return directories


def _golden(family: str) -> np.lib.npyio.NpzFile:
    return np.load(GOLDEN_DIR / f"{family}_micro.npz")


def _peak_error(audio: np.ndarray, reference: np.ndarray) -> float:
    assert audio.shape == reference.shape
    return float(np.abs(audio - reference).max() / np.abs(reference).max())


@pytest.mark.parametrize("family", RELEASES)
def test_batch_codec_gives_each_clip_of_a_batch_the_official_result(converted, family):
    codec = load_codec(converted[family])
    assert isinstance(codec, XCodec2) and codec.family == family
    golden = _golden(family)
    batch = BatchCodec(codec, batch_size=4)
    wavs = [golden[f"wav_{i}"] for i in CLIPS]
    frames = [codec.num_frames(len(w)) for w in wavs]
    assert len(batch.batches(frames)) == 1  # all three in one padded batch
    batch.fit_ladder(frames)  # the padded size inference.py picks: the command-line test reuses the compiled passes
    codes = batch.encode(wavs)
    for i in CLIPS:
        np.testing.assert_array_equal(codes[i], golden[f"codes_{i}"][None])
    audio = batch.decode(codes)
    for i in CLIPS:
        assert _peak_error(audio[i], golden[f"recon_{i}"]) < AUDIO_TOLERANCE
    # reconstruct: the same audio, cut to the clip's length at the output rate (NeuCodec's frames cover less)
    for i, wav in zip(CLIPS, batch.start_reconstruct(wavs)()):
        expected = min(len(golden[f"wav_{i}"]) * codec.output_sample_rate // 16000, len(audio[i]))
        np.testing.assert_array_equal(wav, audio[i][:expected])


def _write_clips(folder: pathlib.Path, golden) -> None:
    folder.mkdir()
    for i in CLIPS:  # float wav: the CLI reads back the very samples of the golden clips
        sf.write(folder / f"clip{i}.wav", golden[f"wav_{i}"], 16000, subtype="FLOAT")


@pytest.mark.parametrize("family", RELEASES)
def test_encode_decode_reconstruct_on_the_command_line(converted, tmp_path, family):
    golden, model = _golden(family), str(converted[family])
    _write_clips(tmp_path / "audio", golden)
    common = ["--checkpoint", model, "--batch-size", "4", "--workers", "1"]
    assert main(["encode", str(tmp_path / "audio"), "--output", str(tmp_path / "codes"), *common]) == errors.OK
    codec = load_codec(model)
    fingerprint = codes_files.fingerprint(codec.params)
    for i in CLIPS:
        path = str(tmp_path / "codes" / f"clip{i}.codes.npz")
        codes, length = codes_files.load(path, fingerprint)
        np.testing.assert_array_equal(codes, golden[f"codes_{i}"][None])
        assert length == min(len(golden[f"wav_{i}"]) * codec.output_sample_rate // 16000,
                             codes.shape[1] * codec.output_hop)
        with np.load(path) as data:
            assert (str(data["family"]), int(data["output_sample_rate"]), float(data["frame_rate"])) == \
                (family, codec.output_sample_rate, 50.0)
    assert main(["decode", str(tmp_path / "codes"), "--output", str(tmp_path / "decoded"), *common]) == errors.OK
    assert main(["reconstruct", str(tmp_path / "audio"), "--output", str(tmp_path / "rec"), *common]) == errors.OK
    for i in CLIPS:
        decoded, rate = sf.read(tmp_path / "decoded" / f"clip{i}.wav", dtype="float32")
        reconstructed, rate_r = sf.read(tmp_path / "rec" / f"clip{i}.wav", dtype="float32")
        assert rate == rate_r == codec.output_sample_rate == {"xcodec2": 16000, "neucodec": 24000}[family]
        np.testing.assert_array_equal(decoded, reconstructed)
        reference = golden[f"recon_{i}"][:len(decoded)]
        assert np.abs(decoded - reference).max() <= 2 ** -15 + AUDIO_TOLERANCE * np.abs(reference).max()  # 16-bit


def test_codes_are_refused_by_another_model(converted, tmp_path, capsys):
    xcodec2 = load_codec(converted["xcodec2"])
    (tmp_path / "codes").mkdir()
    codes_files.save(str(tmp_path / "codes" / "clip.codes.npz"), _golden("xcodec2")["codes_2"][None], 2000, 16000,
                     xcodec2.config, codes_files.fingerprint(xcodec2.params))
    assert main(["decode", str(tmp_path / "codes"), "--output", str(tmp_path / "decoded"),
                 "--checkpoint", str(converted["neucodec"])]) == errors.FAILED
    refused = [line for line in capsys.readouterr().err.splitlines() if line.startswith("failed: ")]
    assert len(refused) == 1 and "made by another model" in refused[0] and "its model: xcodec2" in refused[0]
    assert not (tmp_path / "decoded" / "clip.wav").exists()


def test_codes_shards_of_the_family(converted, tmp_path):
    """`encode --format arrayrecord`: NeuCodec's index describes the family, `CodesSource` reads the official codes
    (values above 32,767 included) and `decode` turns the shards into 24 kHz audio."""
    from bigcodec_jax.data.codes_source import CodesSource

    golden, model = _golden("neucodec"), str(converted["neucodec"])
    _write_clips(tmp_path / "audio", golden)
    common = ["--checkpoint", model, "--batch-size", "4", "--workers", "1"]
    assert main(["encode", str(tmp_path / "audio"), "--output", str(tmp_path / "shards"), "--format", "arrayrecord",
                 *common]) == errors.OK
    source = CodesSource(str(tmp_path / "shards"))
    assert (source.index["family"], source.index["output_sample_rate"], source.index["codebook_size"]) == \
        ("neucodec", 24000, 65536)
    for record in (source[i] for i in range(len(source))):
        np.testing.assert_array_equal(record["codes"][0], golden[f"codes_{record['id'][4]}"])
    assert main(["decode", str(tmp_path / "shards"), "--output", str(tmp_path / "decoded"), *common]) == errors.OK
    decoded, rate = sf.read(tmp_path / "decoded" / "clip1.wav", dtype="float32")
    assert rate == 24000 and decoded.shape == golden["recon_1"].shape
