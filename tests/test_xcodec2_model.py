"""X-Codec2 and NeuCodec end to end against the official code: codes identical, audio within 1e-4 of the peak.

Weights come from each committed release layout (`tests/golden/FAMILY.md`): X-Codec2's `model.safetensors`
and Lightning `.ckpt`, NeuCodec's `pytorch_model.bin`. The three clips run alone and as one padded batch, which
must give each clip what it gets alone (the official code cannot batch).
"""
from __future__ import annotations

import os
import pathlib

import jax
import numpy as np
import pytest

from bigcodec_jax.checkpoints import safetensors_format, torch_zip, xcodec2_layout
from bigcodec_jax.codec.config import to_json
from bigcodec_jax.family_api import XCodec2
from bigcodec_jax.xcodec2 import config as config_lib
from bigcodec_jax.xcodec2.model import XCodec2Model
from conftest import GOLDEN_DIR as _GOLDEN

GOLDEN_DIR = pathlib.Path(_GOLDEN)

CLIPS = range(3)
ALONE = 1  # the clip whose length is not a multiple of 320 also runs alone (each shape costs a compile)
FULL_DIR = os.environ.get("BIGCODEC_FAMILY_FULL_DIR")
READERS = {  # by suffix: a flat state dict from each released layout
    "safetensors": safetensors_format.read_tensors,
    "ckpt": lambda path: torch_zip.load(path)["state_dict"],
    "bin": torch_zip.load,
}
MICRO_FILES = {"model.safetensors": "xcodec2_micro.safetensors", "lightning.ckpt": "xcodec2_micro.ckpt",
               "pytorch_model.bin": "neucodec_micro.bin"}


def _load(family: str, layout: str) -> tuple[object, dict]:
    file = MICRO_FILES[layout]
    state = xcodec2_layout.normalised(READERS[file.rsplit(".", 1)[1]](GOLDEN_DIR / file))
    config = config_lib.model_config(family, "micro")
    assert xcodec2_layout.infer_config(state, heads=4).to_dict() == config.to_dict()
    return xcodec2_layout.to_params(state, config)


@pytest.fixture(scope="module", params=[("xcodec2", "model.safetensors"), ("neucodec", "pytorch_model.bin")],
                ids=lambda p: p[0])
def loaded(request):
    family, layout = request.param
    return XCodec2(*_load(family, layout)), np.load(GOLDEN_DIR / f"{family}_micro.npz")


def _peak_error(audio: np.ndarray, reference: np.ndarray) -> float:
    assert audio.shape == reference.shape
    return float(np.abs(audio - reference).max() / np.abs(reference).max())


def test_a_clip_alone(loaded):
    codec, golden = loaded
    codes = codec.encode(golden[f"wav_{ALONE}"])
    np.testing.assert_array_equal(codes[0, 0], golden[f"codes_{ALONE}"])
    assert _peak_error(codec.decode(codes)[0], golden[f"recon_{ALONE}"]) < 1e-4


def test_a_padded_batch_gives_each_clip_the_official_result(loaded):
    codec, golden = loaded
    codes = codec.encode_batch([golden[f"wav_{i}"] for i in CLIPS])
    for i in CLIPS:
        np.testing.assert_array_equal(codes[i][0], golden[f"codes_{i}"])
    for i, audio in enumerate(codec.decode_batch(codes)):
        assert _peak_error(audio, golden[f"recon_{i}"]) < 1e-4


def test_each_stage(loaded):
    """The acoustic encoder's output and the FSQ's input (semantic, adapter and fc_prior before it) per stage."""
    codec, golden = loaded
    wav, features = golden[f"padded_{ALONE}"][None], golden[f"features_{ALONE}"][None]
    variables = {"params": codec.params}
    acoustic = codec.model.apply(variables, wav, method=lambda m, w: m.acoustic(w[..., None]))
    assert _peak_error(np.asarray(acoustic)[0], golden[f"acoustic_{ALONE}"]) < 1e-5
    prior = codec.model.apply(variables, wav, features, method=XCodec2Model.latents)
    assert _peak_error(np.asarray(prior)[0], golden[f"prior_{ALONE}"]) < 1e-5


@pytest.mark.skipif(not FULL_DIR, reason="the full-size sets are made by `make_family_golden.py --full --out DIR` "
                                         "(gigabytes, not committed); set BIGCODEC_FAMILY_FULL_DIR=DIR to run this")
@pytest.mark.parametrize("family,filename", [("xcodec2", "xcodec2_full.safetensors"), ("neucodec", "neucodec_full.bin")])
def test_the_released_sizes(family, filename):
    state = xcodec2_layout.normalised(READERS[filename.rsplit(".", 1)[1]](pathlib.Path(FULL_DIR) / filename))
    codec = XCodec2(*xcodec2_layout.to_params(state))
    assert to_json(codec.config) == to_json(config_lib.model_config(family))
    golden = np.load(pathlib.Path(FULL_DIR) / f"{family}_full.npz")
    codes = codec.encode(golden[f"wav_{ALONE}"])
    np.testing.assert_array_equal(codes[0, 0], golden[f"codes_{ALONE}"])
    assert _peak_error(codec.decode(codes)[0], golden[f"recon_{ALONE}"]) < 1e-4


def test_rates_and_sizes(loaded):
    codec, golden = loaded
    assert (codec.sample_rate, codec.frame_rate, codec.codebook_size) == (16000, 50, 65536)
    assert codec.output_sample_rate == {"xcodec2": 16000, "neucodec": 24000}[codec.family]


def test_the_lightning_checkpoint_holds_the_same_weights():
    config, params = _load("xcodec2", "lightning.ckpt")
    _, reference = _load("xcodec2", "model.safetensors")
    jax.tree.map(np.testing.assert_array_equal, params, reference)
