"""X-Codec2 / NeuCodec checkpoints from every source (issue 29.2): release layouts, transformers' port, exports,
a folder, a hub id (offline cache), the semantic model from a second source, and the refusals.

Parameter trees are compared exactly against the release file read directly; the model runs once (transformers'
port, whose weights are re-folded and zero-padded: its codes must equal the official codes). The exact codes
and audio of the release layouts are tests/test_xcodec2_model.py's.
"""
from __future__ import annotations

import json
import pathlib
import shutil

import jax
import numpy as np
import pytest
from safetensors.numpy import save_file

from bigcodec_jax.api import BigCodec
from bigcodec_jax.checkpoints import pretrained, safetensors_format, torch_zip, xcodec2_layout
from bigcodec_jax.checkpoints.torch_zip import CheckpointError
from bigcodec_jax.convert import main as convert_main
from bigcodec_jax.family_api import NeuCodec, XCodec2, load_codec
from bigcodec_jax.xcodec2 import config as config_lib
from conftest import GOLDEN_DIR as _GOLDEN
from test_checkpoint_sources import lay_out_hub_cache

GOLDEN = pathlib.Path(_GOLDEN)
XCODEC2, LIGHTNING, NEUCODEC = (GOLDEN / name for name in ("xcodec2_micro.safetensors", "xcodec2_micro.ckpt",
                                                           "neucodec_micro.bin"))
HF, W2V_BERT = GOLDEN / "xcodec2_micro_hf", GOLDEN / "w2v_bert_micro"
MICRO = {family: config_lib.model_config(family, "micro") for family in config_lib.FAMILIES}


def _reference(family: str) -> dict:
    """The params of a release file read directly (no source telling apart), at the micro config."""
    state = (safetensors_format.read_tensors(XCODEC2) if family == "xcodec2" else torch_zip.load(NEUCODEC))
    return xcodec2_layout.to_params(xcodec2_layout.normalised(state), MICRO[family])[1]


def _equal(a: dict, b: dict) -> None:
    assert jax.tree.structure(a) == jax.tree.structure(b)
    jax.tree.map(np.testing.assert_array_equal, a, b)


def _without_semantic(path: pathlib.Path) -> pathlib.Path:
    tensors = safetensors_format.read_tensors(XCODEC2)
    save_file({k: v for k, v in tensors.items() if not k.startswith(xcodec2_layout.SEMANTIC_PREFIX)}, path)
    return path


@pytest.mark.parametrize("path, cls", [(XCODEC2, XCodec2), (LIGHTNING, XCodec2), (NEUCODEC, NeuCodec)],
                         ids=["model.safetensors", "lightning.ckpt", "pytorch_model.bin"])
def test_each_release_layout_loads(path, cls):
    config, params = pretrained.load(path, config=MICRO[cls.FAMILY])
    assert config.to_dict() == MICRO[cls.FAMILY].to_dict()
    _equal(params["model"], _reference(cls.FAMILY))
    codec = load_codec(path, config=MICRO[cls.FAMILY])
    assert type(codec) is cls and codec.family == cls.FAMILY


def test_a_folder_holding_the_release_file_loads(tmp_path):
    shutil.copyfile(NEUCODEC, tmp_path / "pytorch_model.bin")
    _equal(pretrained.load(tmp_path, config=MICRO["neucodec"])[1]["model"], _reference("neucodec"))


def test_transformers_port_gives_the_official_codes():
    """Its config.json gives the heads (4) and its zero-padded widths (encoder 64, quantizer 80); weight norm
    unfolded and the q/k rows put back, the decoder's transformer weights are the official ones exactly."""
    codec = XCodec2.from_pretrained(HF)
    assert (codec.config.decoder.heads, codec.config.encoder.out_channels, codec.config.quantizer.dim) == (4, 64, 80)
    official = _reference("xcodec2")
    for part in ("decoder", "semantic", "adapter"):
        keys = [k for k in official[part] if k not in ("embed", "head")]  # fc_post_a / head: padded or equal
        _equal({k: codec.params[part][k] for k in keys}, {k: official[part][k] for k in keys})
    _equal(pretrained.load(HF / "model.safetensors")[1]["model"], pretrained.load(HF)[1]["model"])
    golden = np.load(GOLDEN / "xcodec2_micro.npz")
    np.testing.assert_array_equal(codec.encode(golden["wav_2"])[0, 0], golden["codes_2"])


def test_transformers_port_needs_its_config(tmp_path):
    shutil.copyfile(HF / "model.safetensors", tmp_path / "model.safetensors")
    with pytest.raises(CheckpointError, match=r"transformers' X-Codec2 layout .* there is no .*config\.json$"):
        pretrained.load(tmp_path / "model.safetensors")


def test_without_the_semantic_model_a_second_source(tmp_path):
    stripped = _without_semantic(tmp_path / "model.safetensors")
    with pytest.raises(CheckpointError) as error:
        XCodec2.from_pretrained(stripped)
    assert str(error.value) == (f"{stripped} holds no semantic model (w2v-BERT) weights; "
                                f"{xcodec2_layout.SEMANTIC_SOURCE_HINT}")
    full = pretrained.load(XCODEC2)
    for semantic in (W2V_BERT, W2V_BERT / "model.safetensors"):
        config, params = pretrained.load(stripped, semantic=semantic)
        assert config.to_dict() == full[0].to_dict()
        _equal(params, full[1])


def test_the_semantic_config_must_match_its_weights(tmp_path):
    shutil.copyfile(W2V_BERT / "model.safetensors", tmp_path / "model.safetensors")
    config = json.loads((W2V_BERT / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "num_attention_heads": 4}))
    with pytest.raises(CheckpointError, match=r"config\.json\) does not describe these weights: num_heads 4 "
                                              r"\(the weights: 2\)$"):
        pretrained.load(_without_semantic(tmp_path / "codec.safetensors"), semantic=tmp_path)


@pytest.mark.parametrize("load, path, message", [
    (XCodec2.from_pretrained, NEUCODEC, "a NeuCodec checkpoint, not an X-Codec2 one: load it with NeuCodec"),
    (NeuCodec.from_pretrained, LIGHTNING, "an X-Codec2 checkpoint, not a NeuCodec one: load it with XCodec2"),
    (BigCodec.from_pretrained, XCODEC2, "an X-Codec2 checkpoint, not a BigCodec one: load it with XCodec2"),
    (XCodec2.from_pretrained, GOLDEN / "micro.pt", "a BigCodec checkpoint, not an X-Codec2 one: load it with BigCodec"),
], ids=["neucodec-as-xcodec2", "xcodec2-as-neucodec", "xcodec2-as-bigcodec", "bigcodec-as-xcodec2"])
def test_a_checkpoint_of_another_family_is_refused(load, path, message):
    with pytest.raises(CheckpointError) as error:
        load(path)
    assert str(error.value) == f"{path} holds {message}.from_pretrained or load_codec"


def test_a_nan_tensor_is_refused(tmp_path):
    tensors = safetensors_format.read_tensors(XCODEC2)
    tensors["fc_prior.weight"] = tensors["fc_prior.weight"].copy()
    tensors["fc_prior.weight"][3, 5] = np.nan
    save_file(tensors, tmp_path / "damaged.safetensors")
    with pytest.raises(CheckpointError, match=r"tensor model/fc_prior/kernel has 1 NaN or infinite values"):
        XCodec2.from_pretrained(tmp_path / "damaged.safetensors")


def test_convert_round_trips(tmp_path, capsys):
    """A release to a converted directory and transformers' port to safetensors (its config, heads included, in
    the metadata): each reloads to the same config and params; --semantic completes a checkpoint; --to-torch
    is refused for the family."""
    assert convert_main([str(NEUCODEC), str(tmp_path / "neucodec")]) == 0
    _equal(pretrained.load(tmp_path / "neucodec")[1], pretrained.load(NEUCODEC)[1])
    assert convert_main([str(HF), str(tmp_path / "hf.safetensors"), "--to-safetensors"]) == 0
    (config, params), (want_config, want) = pretrained.load(tmp_path / "hf.safetensors"), pretrained.load(HF)
    assert config.to_dict() == want_config.to_dict() and config.decoder.heads == 4
    _equal(params, want)
    stripped = _without_semantic(tmp_path / "stripped.safetensors")
    assert convert_main([str(stripped), str(tmp_path / "completed"), "--semantic", str(W2V_BERT)]) == 0
    _equal(pretrained.load(tmp_path / "completed")[1], pretrained.load(XCODEC2)[1])
    capsys.readouterr()
    assert convert_main([str(NEUCODEC), str(tmp_path / "x.pt"), "--to-torch"]) == 2
    assert "--to-torch writes BigCodec's release layout" in capsys.readouterr().err
    assert not (tmp_path / "x.pt").exists()


def test_hub_ids_offline(tmp_path, monkeypatch):
    """HKUSTAudio/xcodec2-hf picks model.safetensors and fetches config.json beside it; facebook/w2v-bert-2.0
    as the semantic source likewise."""
    from huggingface_hub import constants

    cache = tmp_path / "hub"
    lay_out_hub_cache(cache, "HKUSTAudio/xcodec2-hf", {name: HF / name for name in ("model.safetensors",
                                                                                     "config.json")})
    lay_out_hub_cache(cache, "facebook/w2v-bert-2.0", {name: W2V_BERT / name for name in ("model.safetensors",
                                                                                         "config.json")})
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    config, params = pretrained.load("HKUSTAudio/xcodec2-hf")
    assert config.decoder.heads == 4
    _equal(params, pretrained.load(HF)[1])
    stripped = _without_semantic(tmp_path / "model.safetensors")
    _equal(pretrained.load(stripped, semantic="facebook/w2v-bert-2.0")[1], pretrained.load(XCODEC2)[1])
