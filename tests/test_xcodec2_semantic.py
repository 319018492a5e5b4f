"""The w2v-BERT semantic path of X-Codec2: features and hidden state 16 against the official golden data.

`tests/golden/xcodec2_micro.npz` and `tests/golden/w2v_bert_micro/` come from transformers'
`SeamlessM4TFeatureExtractor` and `Wav2Vec2BertModel` (17 layers, micro sizes, random weights; see
tests/golden/make_family_golden.py). The official X-Codec2 pads the waveform to a multiple of 320 (`padded_i`)
and then by 160 on each side before extracting features.
"""
from __future__ import annotations

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bigcodec_jax.checkpoints import safetensors_format
from bigcodec_jax.checkpoints.torch_zip import CheckpointError
from bigcodec_jax.checkpoints.w2v_bert_weights import entries, params_from_state
from bigcodec_jax.xcodec2.features import FEATURE_DIM, MIN_SAMPLES, batch_features, log_mel_features
from bigcodec_jax.xcodec2.semantic import W2vBert, W2vBertConfig

GOLDEN = os.path.join(os.path.dirname(__file__), "golden")
NPZ = os.path.join(GOLDEN, "xcodec2_micro.npz")
W2V_BERT = os.path.join(GOLDEN, "w2v_bert_micro")
CLIPS = 3
needs_golden = pytest.mark.skipif(not os.path.exists(NPZ) or not os.path.isdir(W2V_BERT),
                                  reason="golden data tests/golden/xcodec2_micro.npz and w2v_bert_micro/ not made yet "
                                         "(tests/golden/make_family_golden.py)")


@pytest.fixture(scope="module")
def golden() -> dict[str, np.ndarray]:
    with np.load(NPZ) as f:
        return dict(f)


@pytest.fixture(scope="module")
def model() -> tuple[W2vBertConfig, dict]:
    with open(os.path.join(W2V_BERT, "config.json")) as f:
        config = W2vBertConfig.from_hf(json.load(f))
    state = safetensors_format.read_tensors(os.path.join(W2V_BERT, "model.safetensors"))
    return config, params_from_state(state, config)


def _feature_input(golden: dict[str, np.ndarray], i: int) -> np.ndarray:
    return np.pad(golden[f"padded_{i}"], (160, 160))


@needs_golden
def test_features_match_official(golden):
    for i in range(CLIPS):
        ours, official = log_mel_features(_feature_input(golden, i)), golden[f"features_{i}"]
        assert ours.shape == official.shape and ours.dtype == np.float32
        np.testing.assert_allclose(ours, official, rtol=0, atol=1e-5, err_msg=f"clip {i}")


@needs_golden
def test_batch_features_pad_each_clip_alone(golden):
    features, lengths = batch_features([_feature_input(golden, i) for i in range(CLIPS)])
    assert features.shape == (CLIPS, max(lengths), FEATURE_DIM) and lengths.dtype == np.int32
    for i in range(CLIPS):
        np.testing.assert_array_equal(features[i, :lengths[i]], log_mel_features(_feature_input(golden, i)))
        assert not features[i, lengths[i]:].any()


@needs_golden
def test_hidden_state_16_matches_official_and_batch_matches_alone(golden, model):
    """One padded batch with valid lengths reproduces the official hidden_states[16] of every clip; and each
    clip run alone (its own shape, no lengths) gives the same rows to float32 rounding."""
    config, params = model
    assert config.num_layers == 16
    features = [golden[f"features_{i}"] for i in range(CLIPS)]
    lengths = np.array([len(f) for f in features], np.int32)
    batch = np.zeros((CLIPS, lengths.max(), FEATURE_DIM), np.float32)
    for i, f in enumerate(features):
        batch[i, :len(f)] = f
    apply = jax.jit(lambda f, n: W2vBert(config).apply({"params": params}, f, n))
    batched = np.asarray(apply(jnp.asarray(batch), jnp.asarray(lengths)))
    for i in range(CLIPS):
        official = golden[f"semantic_{i}"]
        scale = np.abs(official).max()
        np.testing.assert_allclose(batched[i, :lengths[i]], official, rtol=0, atol=1e-5 * scale, err_msg=f"clip {i}")
    for i in (1, 2):  # the padded rows (clip 0 is the longest); each alone is one more compile
        alone = np.asarray(apply(jnp.asarray(features[i][None]), None))[0]
        np.testing.assert_allclose(batched[i, :lengths[i]], alone, rtol=0, atol=5e-6 * np.abs(alone).max())


@needs_golden
def test_weight_table_covers_the_model_and_names_bad_tensors(model):
    config, params = model
    state = safetensors_format.read_tensors(os.path.join(W2V_BERT, "model.safetensors"))
    table = list(entries(config, "semantic_model.", ("semantic",)))
    assert len({e.path for e in table}) == len(table) == len(jax.tree_util.tree_leaves(params))
    assert all(e.torch_name.startswith("semantic_model.") and e.path[0] == "semantic" for e in table)
    assert not any(".layers.16." in e.torch_name for e in table)  # the 17th layer exists but is not read
    name = "encoder.layers.3.conv_module.depthwise_conv.weight"
    with pytest.raises(CheckpointError, match=name):
        params_from_state({k: v for k, v in state.items() if k != name}, config)
    with pytest.raises(CheckpointError, match=name):
        params_from_state({**state, name: state[name][..., :-1]}, config)


@pytest.mark.parametrize("wav, problem", [
    (np.zeros((2, 16000), np.float32), "shape"),
    (np.zeros(0, np.float32), "too short"),
    (np.zeros(MIN_SAMPLES - 1, np.float32), "too short"),
    (np.full(16000, np.nan, np.float32), "non-finite"),
    (np.zeros(16000, np.complex64), "real"),
])
def test_bad_audio_is_refused(wav, problem):
    with pytest.raises(ValueError, match=problem) as info:
        log_mel_features(wav)
    assert "\n" not in str(info.value)


def test_bad_features_are_refused():
    model = W2vBert(W2vBertConfig(hidden_size=4, num_layers=1, num_heads=1, intermediate_size=4))
    with pytest.raises(ValueError, match="160"):
        model.init(jax.random.PRNGKey(0), jnp.zeros((1, 5, 80)))
    with pytest.raises(ValueError, match="160"):
        model.init(jax.random.PRNGKey(0), jnp.zeros((5, FEATURE_DIM)))


def test_unsupported_configs_are_refused():
    with pytest.raises(ValueError, match="rotary"):
        W2vBertConfig.from_hf({"position_embeddings_type": "rotary"})
    with pytest.raises(ValueError, match="17 layers"):
        W2vBertConfig.from_hf({"num_hidden_layers": 12}, num_layers=17)
    assert W2vBertConfig.from_hf({}) == W2vBertConfig()
