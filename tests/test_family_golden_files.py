"""The committed X-Codec2 / NeuCodec golden files (issue 29) hold the agreed keys, shapes and layouts.

Checks what `tests/golden/make_family_golden.py` wrote against `tests/golden/FAMILY.md` (the contract the
family's parity tests read): every npz key with its shape and dtype, the frame and sample counts of the
official padding and alignment, and each checkpoint layout through the readers the project itself uses
(`torch_zip` for the `.ckpt` / `.bin`, safetensors' numpy reader for the rest). numpy, json and safetensors only.
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
from safetensors import safe_open

from bigcodec_jax.checkpoints import torch_zip

GOLDEN = os.path.join(os.path.dirname(__file__), "golden")
MODELS = ("xcodec2", "neucodec")


def family() -> dict:
    with open(os.path.join(GOLDEN, "family_micro.json")) as f:
        return json.load(f)


def safetensors_dict(path: str) -> dict[str, np.ndarray]:
    with safe_open(path, framework="np") as f:
        return {k: f.get_tensor(k) for k in f.keys()}


@pytest.mark.parametrize("name", MODELS)
def test_npz_keys_and_shapes(name: str) -> None:
    sizes = family()["models"][name]
    sem, adapter = sizes["semantic"]["hidden_size"], sizes["adapter"]
    enc, vq, dec = sizes["encoder"]["hidden_dim"], sizes["decoder"]["vq_dim"], sizes["decoder"]["hidden_dim"]
    golden = np.load(os.path.join(GOLDEN, f"{name}_micro.npz"))
    assert len(golden.files) == 12 * len(sizes["clip_samples"])
    for i, samples in enumerate(sizes["clip_samples"]):
        g = {k: golden[f"{k}_{i}"] for k in ("wav", "padded", "features", "semantic", "adapted", "acoustic", "prior",
                                             "fsq_in", "codes", "post", "backbone", "recon")}
        padded = samples + 320 - samples % 320
        frames, codes = padded // 320, len(g["codes"])
        features = len(g["features"])
        assert g["wav"].shape == (samples,) and g["padded"].shape == (padded,)
        np.testing.assert_array_equal(g["padded"][:samples], g["wav"])
        assert not g["padded"][samples:].any()
        # X-Codec2 pads the waveform by 160 each side for the features, NeuCodec does not (one frame fewer)
        assert features == (frames if name == "xcodec2" else frames - 1)
        assert codes == min(features, frames)
        assert g["features"].shape == (features, 160)
        assert g["semantic"].shape == (features, sem) and g["adapted"].shape == (features, adapter)
        assert g["acoustic"].shape == (frames, enc)
        assert g["prior"].shape == (codes, vq) and g["fsq_in"].shape == (codes, 8)
        assert g["codes"].dtype == np.int64 and g["codes"].min() >= 0 and g["codes"].max() < 4 ** 8
        assert g["post"].shape == (codes, dec) and g["backbone"].shape == (codes, dec)
        assert g["recon"].shape == (codes * sizes["hop_length"],)
        for key, value in g.items():
            assert key == "codes" or value.dtype == np.float32, key
            assert np.isfinite(value).all(), key
    assert len(np.unique(golden["codes_0"])) > len(golden["codes_0"]) // 2  # the codes are spread, not collapsed


def test_release_layouts_hold_the_same_weights() -> None:
    release = safetensors_dict(os.path.join(GOLDEN, "xcodec2_micro.safetensors"))
    prefixes = {k.split(".")[0] for k in release}
    assert prefixes == {"semantic_model", "SemanticEncoder_module", "CodecEnc", "generator", "fc_prior", "fc_post_a"}
    assert "CodecEnc.conv_blocks.0.weight_g" in release and "CodecEnc.conv_blocks.0.weight_v" in release
    assert "CodecEnc.conv_blocks.1.block.0.block.0.act.bias" in release  # X-Codec2's SnakeBeta names beta `bias`
    assert release["fc_prior.weight"].shape == (32, 32) and release["fc_post_a.weight"].shape == (64, 32)
    assert release["generator.backbone.transformers.0.att.c_attn.weight"].shape == (192, 64)
    assert release["generator.head.out.weight"].shape == (1282, 64)
    assert "semantic_model.encoder.layers.16.ffn1.output_dense.weight" in release

    ckpt = torch_zip.load(os.path.join(GOLDEN, "xcodec2_micro.ckpt"))
    assert {"state_dict", "epoch", "global_step", "pytorch-lightning_version"} <= set(ckpt)
    state = ckpt["state_dict"]
    for key, value in release.items():
        np.testing.assert_array_equal(state[key], value, err_msg=key)
    extra = {k.split(".")[0] for k in state} - prefixes
    assert extra == {"fc_post_s", "SemanticDecoder_module", "discriminator", "spec_discriminator"}

    w2v = safetensors_dict(os.path.join(GOLDEN, "w2v_bert_micro", "model.safetensors"))
    for key, value in w2v.items():
        np.testing.assert_array_equal(release["semantic_model." + key], value, err_msg=key)
    with open(os.path.join(GOLDEN, "w2v_bert_micro", "preprocessor_config.json")) as f:
        assert json.load(f)["feature_extractor_type"] == "SeamlessM4TFeatureExtractor"

    neu = torch_zip.load(os.path.join(GOLDEN, "neucodec_micro.bin"))
    assert "CodecEnc.conv_blocks.1.block.0.block.0.act.beta" in neu and "fc_post_s.weight" in neu
    assert any(k.startswith("SemanticDecoder_module.") for k in neu)
    assert neu["generator.head.out.weight"].shape == (1922, 64)
    for key, value in w2v.items():  # the semantic model is shared; the codec parts differ
        np.testing.assert_array_equal(neu["semantic_model." + key], value, err_msg=key)
    assert not np.array_equal(neu["fc_prior.weight"], release["fc_prior.weight"])


def test_transformers_port_layout() -> None:
    folder = os.path.join(GOLDEN, "xcodec2_micro_hf")
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    assert config["model_type"] == "xcodec2" and config["hidden_size"] == 64 and config["quantization_dim"] == 80
    assert config["semantic_model_config"]["num_hidden_layers"] == 16
    port = safetensors_dict(os.path.join(folder, "model.safetensors"))
    release = safetensors_dict(os.path.join(GOLDEN, "xcodec2_micro.safetensors"))
    assert "semantic_encoder.encoder.layers.16.ffn1.output_dense.weight" not in port
    assert port["acoustic_decoder.layers.0.self_attn.q_proj.weight"].shape == (64, 64)
    np.testing.assert_array_equal(port["acoustic_decoder.layers.0.self_attn.v_proj.weight"],
                                  release["generator.backbone.transformers.0.att.c_attn.weight"][128:])
    # the official 16-wide encoder output and 32-wide vq_dim, embedded with zero padding in the port's widths
    conv2 = port["acoustic_encoder.conv2.weight"]
    assert conv2.shape == (64, 64, 3) and not conv2[16:].any()
    np.testing.assert_array_equal(port["fc_encoder.weight"][:32, :32], release["fc_prior.weight"])
    assert not port["fc_encoder.weight"][32:].any() and not port["fc_encoder.weight"][:, 32:].any()
    np.testing.assert_array_equal(port["acoustic_decoder.fc.weight"][:, :32], release["fc_post_a.weight"])
