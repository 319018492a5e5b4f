"""Converter: formats, config inference, round trips, error messages, a full-size synthetic checkpoint."""
import json

import jax
import numpy as np
import pytest

from bigcodec_jax import BigCodec
from bigcodec_jax.codec import config as config_lib
from bigcodec_jax.checkpoints import official, store, torch_zip
from bigcodec_jax.checkpoints.torch_zip import CheckpointError
from bigcodec_jax.convert import main as convert_main
from bigcodec_jax.nn.activations import RESAMPLING_FILTER
from conftest import CHECKPOINT_SETS, COMMITTED_SET, DISCRIMINATOR_SETS, TRAINING_SETS, reference_path


@pytest.mark.parametrize("name", CHECKPOINT_SETS)
def test_config_inferred_from_shapes(name):
    inferred = official.infer_config(official.read_sections(reference_path(name + ".pt"))).to_dict()
    want = json.load(open(reference_path(name + ".json")))
    sections = ("encoder", "decoder", "mpd", "mstft") if name != "official_debug" else ("encoder", "decoder")
    for section in sections:  # a generator-only file does not show its discriminators
        assert inferred[section] == want[section], section
    if name in config_lib.VARIANTS and name != "official_debug":  # a named variant equals its preset
        assert inferred == config_lib.model_config(name).to_dict()


@pytest.mark.parametrize("golden_set", TRAINING_SETS)
def test_lightning_checkpoint(tmp_path, golden_set):
    sections = official.read_sections(reference_path(golden_set + "_lightning.ckpt"))
    assert set(sections) == {"CodecEnc", "generator", "discriminator", "spec_discriminator"}
    assert official.infer_config(sections).to_dict() == json.load(open(reference_path(golden_set + ".json")))
    after = np.load(reference_path(golden_set + "_train.npz"))
    names = [k for k in after.files if k.startswith("param_after/")]
    assert len(names) > 100
    for key in names:
        section, name = key[len("param_after/"):].split(".", 1)
        np.testing.assert_array_equal(sections[section][name], after[key])
    codec = BigCodec.from_pretrained(reference_path(golden_set + "_lightning.ckpt"))
    assert codec.encode(np.zeros(400, np.float32)).shape == (1, 2, 2)


@pytest.mark.parametrize("name", DISCRIMINATOR_SETS)
def test_cli_round_trip_returns_identical_tensors(tmp_path, capsys, name):
    src = reference_path(name + ".pt")
    assert convert_main([src, str(tmp_path / "conv")]) == 0
    assert "discriminators" in capsys.readouterr().out
    assert store.is_converted(tmp_path / "conv")
    assert convert_main(["--to-torch", str(tmp_path / "conv"), str(tmp_path / "back.pt")]) == 0
    original, back = torch_zip.load(src), torch_zip.load(tmp_path / "back.pt")
    assert list(back) == list(original) + [official.CONFIG_KEY]
    assert json.loads(back.pop(official.CONFIG_KEY)) == official.infer_config(official.read_sections(src)).to_dict()
    for section in original:
        assert list(original[section]) == list(back[section]), section
        for key, value in original[section].items():
            assert back[section][key].dtype == value.dtype
            np.testing.assert_array_equal(back[section][key], value, err_msg=f"{section}.{key}")


def test_converted_directory_gives_the_same_codes(tmp_path):
    convert_main([reference_path(COMMITTED_SET + ".pt"), str(tmp_path / "conv")])
    wav = np.load(reference_path(COMMITTED_SET + ".npz"))["wav"]
    a = BigCodec.from_pretrained(reference_path(COMMITTED_SET + ".pt")).encode(wav)
    b = BigCodec.from_pretrained(tmp_path / "conv").encode(wav)
    np.testing.assert_array_equal(a, b)


def damaged(edit):
    sections = official.read_sections(reference_path(COMMITTED_SET + ".pt"))
    edit(sections)
    with pytest.raises(CheckpointError) as info:
        official.torch_to_flax(sections)
    return str(info.value)


def test_missing_key_is_named():
    message = damaged(lambda s: s["CodecEnc"].pop("block.1.block.0.block.1.weight_g"))
    assert "missing keys: CodecEnc.block.1.block.0.block.1.weight_g" in message


def test_unexpected_key_is_named():
    message = damaged(lambda s: s["generator"].__setitem__("model.99.weight", np.zeros(3, np.float32)))
    assert "unexpected keys: generator.model.99.weight" in message


def test_shape_mismatch_is_named():
    def edit(s):
        s["generator"]["model.2.block.2.block.1.weight_v"] = np.zeros((16, 16, 5), np.float32)
    message = damaged(edit)
    assert "shape mismatches: generator.model.2.block.2.block.1.weight_v (checkpoint (16, 16, 5), model (16, 16, 7))" in message


def test_foreign_resampling_filter_is_refused():
    message = damaged(lambda s: s["CodecEnc"].__setitem__("block.6.upsample.filter", np.ones((1, 1, 12), np.float32)))
    assert "CodecEnc.block.6.upsample.filter is not the official resampling filter" in message


def test_not_a_bigcodec_checkpoint(tmp_path):
    torch_zip.save({"state": {"w": np.zeros(2, np.float32)}}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a BigCodec checkpoint: it has no CodecEnc or generator"):
        official.read_sections(tmp_path / "other.pt")


def test_cli_reports_errors_in_one_line(tmp_path, capsys):
    (tmp_path / "bad.pt").write_text("not a checkpoint")
    assert convert_main([str(tmp_path / "bad.pt"), str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "not a PyTorch checkpoint" in err and "Traceback" not in err


def test_full_size_synthetic_checkpoint(tmp_path):
    """Random tensors with the released names and shapes, written by our own writer, convert and run."""
    manifest = json.load(open(reference_path("manifest.json")))
    rng = np.random.default_rng(0)
    released = {}
    for section in ("CodecEnc", "generator"):
        released[section] = {}
        for key, shape in manifest[section].items():
            if key.endswith(".filter"):
                released[section][key] = RESAMPLING_FILTER.reshape(shape)
            else:
                released[section][key] = (0.02 * rng.standard_normal(shape, np.float32) + 0.01).astype(np.float32)
    torch_zip.save(released, tmp_path / "bigcodec.pt")
    del released
    sections = official.read_sections(tmp_path / "bigcodec.pt")
    config, params = official.torch_to_flax(sections)
    assert config.to_dict() == config_lib.model_config("full").to_dict()
    assert sum(int(np.size(x)) for x in jax.tree.leaves(params["generator"])) == 159_436_290
    codec = BigCodec(config, params["generator"])
    codes = codec.encode(np.random.default_rng(1).uniform(-0.5, 0.5, 8000).astype(np.float32))
    assert codes.shape == (1, 1, 40) and codes.dtype == np.int32
    assert codes.min() >= 0 and codes.max() < 8192
    wav = codec.decode(codes, length=8000)
    assert wav.shape == (1, 8000) and wav.dtype == np.float32 and np.isfinite(wav).all()
