"""X-Codec2 / NeuCodec decoder side against the official code (golden data), and batched = alone.

Golden: `tests/golden/{xcodec2,neucodec}_micro.npz` with their release-layout weights (see the golden set's
description): FSQ codes from `prior_i` (a differing code must be a rounding tie), `post_i` from the codes,
the Vocos backbone and audio from `post_i`, the semantic adapter from `semantic_i`.
"""
import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bigcodec_jax.checkpoints import torch_zip, vocos_weights
from bigcodec_jax.checkpoints.layout import tree_from_state
from bigcodec_jax.nn.fsq import ResidualFSQ
from bigcodec_jax.xcodec2.adapter import SemanticAdapter
from bigcodec_jax.xcodec2.decoder import VocosDecoder
from conftest import GOLDEN_DIR, relative_error

# The golden set's micro sizes.
MICRO = dict(hidden=64, depth=2, heads=4, rotary_dim=16)
FSQ_DIM, SEMANTIC = 32, 16
HOPS = {"xcodec2": 320, "neucodec": 480}
WEIGHTS = {"xcodec2": "xcodec2_micro.safetensors", "neucodec": "neucodec_micro.bin"}
CLIPS = 3
TIE = 1e-5  # a bounded value this close to a half-integer may round either way


def _state(name: str) -> dict[str, np.ndarray]:
    path = os.path.join(GOLDEN_DIR, WEIGHTS[name])
    if name == "neucodec":
        return {k: np.asarray(v) for k, v in torch_zip.load(path).items()}
    from safetensors import safe_open
    with safe_open(path, framework="np") as f:
        return {k: f.get_tensor(k) for k in f.keys()}


@pytest.fixture(scope="module", params=sorted(HOPS))
def golden(request):
    name = request.param
    files = [f"{name}_micro.npz", WEIGHTS[name]]
    absent = [f for f in files if not os.path.exists(os.path.join(GOLDEN_DIR, f))]
    if absent:
        pytest.skip(f"golden files {', '.join(absent)} are not in tests/golden yet "
                    "(made by tests/golden/make_family_golden.py)")
    state = _state(name)
    w = vocos_weights
    params = {
        "fsq": tree_from_state(state, w.fsq_entries("generator.quantizer", ())),
        "decoder": tree_from_state(state, w.vocos_decoder_entries("generator", (), MICRO["depth"])),
        "adapter": tree_from_state(state, w.semantic_adapter_entries("SemanticEncoder_module", ())),
        "fc_post_a": tree_from_state(state, w.linear_entries("fc_post_a", ())),
    }
    return name, params, dict(np.load(os.path.join(GOLDEN_DIR, files[0])))


def _clips(data: dict[str, np.ndarray], key: str) -> tuple[np.ndarray, jax.Array]:
    """The three clips' `key` arrays right-padded into one batch, and their lengths: each golden check runs
    once on the padded batch, which also checks that padding changes nothing."""
    clips = [data[f"{key}_{i}"] for i in range(CLIPS)]
    batch = np.zeros((CLIPS, max(len(c) for c in clips)) + clips[0].shape[1:], clips[0].dtype)
    for b, c in enumerate(clips):
        batch[b, :len(c)] = c
    return batch, jnp.asarray([len(c) for c in clips])


def test_fsq_codes(golden):
    _, params, data = golden
    fsq, variables = ResidualFSQ(FSQ_DIM), {"params": params["fsq"]}
    prior, lengths = _clips(data, "prior")
    _, codes = fsq.apply(variables, prior)
    bounded = np.asarray(fsq.apply(variables, prior, method=fsq.bounded))
    projected = np.asarray(fsq.apply(variables, prior, method=lambda m, x: m.project_in(x)))
    for i, n in enumerate(lengths):
        assert relative_error(projected[i, :n], data[f"fsq_in_{i}"]) < 1e-5
        differ = np.asarray(codes[i, :n]) != data[f"codes_{i}"]
        tie_distance = np.abs(bounded[i, :n] - np.floor(bounded[i, :n]) - 0.5).min(axis=-1)
        assert np.all(tie_distance[differ] < TIE), f"clip {i}: non-tie code differences at {np.flatnonzero(differ)}"
        assert differ.sum() <= 1, f"clip {i}: {differ.sum()} codes differ"


def test_embedding_from_codes(golden):
    _, params, data = golden
    fsq = ResidualFSQ(FSQ_DIM)
    codes, lengths = _clips(data, "codes")
    post = nn.Dense(MICRO["hidden"]).apply({"params": params["fc_post_a"]},
                                           fsq.apply({"params": params["fsq"]}, codes, method=fsq.embed))
    for i, n in enumerate(lengths):
        assert relative_error(post[i, :n], data[f"post_{i}"]) < 1e-5


def test_backbone_and_audio(golden):
    name, params, data = golden
    decoder, variables = VocosDecoder(**MICRO, hop=HOPS[name]), {"params": params["decoder"]}
    post, frames = _clips(data, "post")
    backbone = jax.jit(lambda x, f: decoder.apply(variables, x, f, method=decoder.backbone))(post, frames)
    audio = jax.jit(lambda x, f: decoder.apply(variables, x, f))(post, frames)
    assert audio.dtype == jnp.float32
    for i, n in enumerate(frames):
        assert relative_error(backbone[i, :n], data[f"backbone_{i}"]) < 1e-4
        assert relative_error(audio[i, :n * HOPS[name]], data[f"recon_{i}"]) < 1e-4


def test_semantic_adapter(golden):
    _, params, data = golden
    adapter = SemanticAdapter(SEMANTIC, SEMANTIC)
    semantic, lengths = _clips(data, "semantic")
    adapted = adapter.apply({"params": params["adapter"]}, semantic, lengths)
    for i, n in enumerate(lengths):
        assert relative_error(adapted[i, :n], data[f"adapted_{i}"]) < 1e-4


LENGTHS = (11, 6, 2)


def _padded_batch(rng: np.random.Generator, channels: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Examples of `LENGTHS` frames, and them right-padded with large junk (masking must ignore it)."""
    alone = [rng.standard_normal((n, channels)).astype(np.float32) for n in LENGTHS]
    batch = 50 * rng.standard_normal((len(LENGTHS), max(LENGTHS), channels)).astype(np.float32)
    for b, x in enumerate(alone):
        batch[b, :len(x)] = x
    return batch, alone


def test_decoder_batched_equals_alone():
    hop = 8  # a small hop keeps the ISTFT cheap; the geometry (n_fft = 4 * hop) is the released one
    decoder = VocosDecoder(hidden=64, depth=1, heads=4, rotary_dim=16, hop=hop)
    batch, alone = _padded_batch(np.random.default_rng(0), 64)
    params = decoder.init(jax.random.PRNGKey(0), batch[:1, :2])
    frames = jnp.asarray(LENGTHS)
    run = jax.jit(lambda x, f: decoder.apply(params, x, f))
    out = np.asarray(run(batch, frames))
    assert out.shape == (len(LENGTHS), max(LENGTHS) * hop)
    for b, x in enumerate(alone):
        single = np.asarray(run(x[None], None))[0]
        assert relative_error(out[b, :len(single)], single) < 1e-5
        assert not out[b, len(single):].any()


def test_adapter_batched_equals_alone():
    adapter = SemanticAdapter(SEMANTIC, 8)
    batch, alone = _padded_batch(np.random.default_rng(1), SEMANTIC)
    params = adapter.init(jax.random.PRNGKey(1), batch[:1])
    out = np.asarray(adapter.apply(params, batch, jnp.asarray(LENGTHS)))
    for b, x in enumerate(alone):
        single = np.asarray(adapter.apply(params, x[None]))[0]
        assert relative_error(out[b, :len(x)], single) < 1e-5
