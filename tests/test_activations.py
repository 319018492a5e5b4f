"""SnakeBeta and the polyphase anti-aliased activation against the official op sequence in numpy."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bigcodec_jax.checkpoints import torch_zip
from bigcodec_jax.nn import activations
from bigcodec_jax.nn.activations import (CONTEXT, RESAMPLING_FILTER, anti_aliased_snake_beta,
                                        anti_aliased_snake_beta_valid, sin_squared, snake_beta)
from conftest import COMMITTED_SET, reference_path


def kaiser_sinc_formula(cutoff=0.25, half_width=0.3, taps=12):
    """The official filter formula (official-model.md), in float64."""
    half = taps // 2
    a = 2.285 * (half - 1) * math.pi * (4 * half_width) + 7.95
    beta = 0.1102 * (a - 8.7)
    t = np.arange(-half, half) + 0.5
    h = 2 * cutoff * np.kaiser(taps, beta) * np.sinc(2 * cutoff * t)
    return h / h.sum()


def official_upsample(x, h):
    """Replicate-pad 5, transposed conv stride 2, times 2, drop 15 per end (x: (T,))."""
    xp = np.pad(x, 5, mode="edge")
    out = np.zeros(2 * (len(xp) - 1) + 12)
    for m, value in enumerate(xp):
        out[2 * m:2 * m + 12] += value * h
    return 2 * out[15:-15]


def official_downsample(u, h):
    up = np.pad(u, (5, 6), mode="edge")
    return np.array([np.dot(h, up[2 * j:2 * j + 12]) for j in range(len(u) // 2)])


def test_filter_matches_formula_and_checkpoint_buffers():
    assert np.abs(RESAMPLING_FILTER - kaiser_sinc_formula()).max() < 1e-7
    sd = torch_zip.load(reference_path(COMMITTED_SET + ".pt"))["CodecEnc"]
    buffers = [v for k, v in sd.items() if k.endswith(".filter")]
    assert len(buffers) > 10
    for b in buffers:
        np.testing.assert_array_equal(b.reshape(-1), RESAMPLING_FILTER)


def official_chain(x, alpha, beta):
    """The official Activation1d on x (B, T, C) in float64 numpy, channel by channel."""
    h = RESAMPLING_FILTER.astype(np.float64)
    out = np.empty(x.shape)
    for b in range(x.shape[0]):
        for c in range(x.shape[2]):
            u = official_upsample(x[b, :, c].astype(np.float64), h)
            u = u + 1 / (np.exp(beta[c]) + 1e-9) * np.sin(u * np.exp(alpha[c])) ** 2
            out[b, :, c] = official_downsample(u, h)
    return out


@pytest.mark.parametrize("length", [1, 2, 3, 4, 6, 11, 30, 97])
def test_anti_aliased_snake_beta_equals_official_chain(length):
    rng = np.random.default_rng(length)
    x = rng.standard_normal((2, length, 3)).astype(np.float32)
    alpha, beta = rng.normal(0, 0.5, 3).astype(np.float32), rng.normal(0, 0.5, 3).astype(np.float32)
    np.testing.assert_allclose(np.asarray(anti_aliased_snake_beta(x, alpha, beta)), official_chain(x, alpha, beta),
                               rtol=0, atol=2e-6)


def test_snake_beta_formula():
    x = np.linspace(-3, 3, 7, dtype=np.float32)[None, :, None]
    got = np.asarray(snake_beta(x, np.float32([0.3]), np.float32([-0.2])))
    want = x + 1 / (np.exp(-0.2) + 1e-9) * np.sin(x * np.exp(0.3)) ** 2
    np.testing.assert_allclose(got, want, rtol=1e-6)


def activation_inputs(length, seed=0):
    rng = np.random.default_rng(seed)
    x = (3 * rng.standard_normal((2, length, 4))).astype(np.float32)
    return x, rng.normal(0, 1, 4).astype(np.float32), rng.normal(0, 1, 4).astype(np.float32)


@pytest.mark.parametrize("length", [2 * CONTEXT + 1, 40, 203])
def test_valid_form_is_the_interior_of_the_whole_signal(length):
    x, alpha, beta = activation_inputs(length)
    valid = np.asarray(anti_aliased_snake_beta_valid(x, alpha, beta))
    whole = np.asarray(anti_aliased_snake_beta(x, alpha, beta))
    assert valid.shape == (2, length - 2 * CONTEXT, 4)
    np.testing.assert_array_equal(valid, whole[:, CONTEXT:length - CONTEXT])
    if length < 3 + 2 * CONTEXT + 4:
        return
    # a window's valid outputs equal the whole signal's at the same frames (what streaming relies on)
    window = np.asarray(anti_aliased_snake_beta_valid(x[:, 3:3 + 2 * CONTEXT + 4], alpha, beta))
    np.testing.assert_array_equal(window, whole[:, 3 + CONTEXT:3 + CONTEXT + 4])


def test_valid_form_needs_more_than_its_context():
    x, alpha, beta = activation_inputs(2 * CONTEXT)
    with pytest.raises(ValueError, match="more than 10 frames"):
        anti_aliased_snake_beta_valid(x, alpha, beta)


def test_lengths_end_each_example_where_it_ends_alone():
    x, alpha, beta = activation_inputs(40)
    lengths = np.array([40, 7])
    padded = x.copy()
    padded[1, 7:] = 100.0  # whatever follows the valid frames does not matter
    got = np.asarray(anti_aliased_snake_beta(padded, alpha, beta, lengths))
    np.testing.assert_array_equal(got[0], np.asarray(anti_aliased_snake_beta(x[:1], alpha, beta))[0])
    np.testing.assert_allclose(got[1, :7], official_chain(x[1:, :7], alpha, beta)[0], rtol=0, atol=2e-6)


def test_sin_squared_against_float64():
    rng = np.random.default_rng(0)
    for bound in (np.pi, 30, 3000, 1e5):
        y = rng.uniform(-bound, bound, 200_000).astype(np.float32)
        want = np.sin(y.astype(np.float64)) ** 2
        assert np.abs(np.asarray(sin_squared(y), np.float64) - want).max() < 1.5e-7, bound
    special = np.asarray(sin_squared(np.float32([0.0, -0.0, np.inf, -np.inf, np.nan, np.pi / 2])))
    assert special[0] == 0 and special[1] == 0 and np.isnan(special[2:5]).all() and abs(special[5] - 1) < 1e-7
    assert sin_squared(np.float32([1.0]).astype(jnp.bfloat16)).dtype == jnp.bfloat16


def _saved_bytes_and_gradients(x, alpha, beta, lengths):
    """(bytes the activation's VJP keeps from its forward pass, its gradients for a random cotangent)."""
    _, backward = jax.vjp(lambda *args: anti_aliased_snake_beta(*args, lengths), x, alpha, beta)
    saved = sum(leaf.size * leaf.dtype.itemsize for leaf in jax.tree.leaves(backward))
    return saved, backward(np.random.default_rng(1).standard_normal(x.shape).astype(np.float32))


def test_backward_recomputes_snake_beta_instead_of_keeping_its_intermediates(monkeypatch):
    """Training memory: the backward keeps the two phases before SnakeBeta (and masks), 3x the input's bytes, not
    the polynomial's intermediates (18x, before SnakeBeta was checkpointed); the gradients are the same."""
    x, alpha, beta = activation_inputs(200)
    lengths = np.array([200, 150])
    saved, grads = _saved_bytes_and_gradients(x, alpha, beta, lengths)
    assert saved <= 4 * x.nbytes, saved / x.nbytes
    monkeypatch.setattr(activations, "snake_beta", activations.snake_beta.__wrapped__)  # not checkpointed
    saved_plain, grads_plain = _saved_bytes_and_gradients(x, alpha, beta, lengths)
    assert saved_plain > 10 * x.nbytes  # what the test would see if the checkpoint were lost
    for got, want in zip(grads, grads_plain):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6, atol=1e-6)


def test_phases_are_materialised_not_recomputed_by_the_downsampler(monkeypatch):
    """The compiled activation keeps its phases (and each example's edge values) in conditionals (`nn/fusion.py`),
    so XLA does not recompute them for each of the downsampler's taps: if a compiler update folds such conditionals
    away, this fails (and the activation would be about 1.8x slower on CPU). The values are bit-identical to the
    fused program's."""
    x, alpha, beta = activation_inputs(300)
    lengths = np.array([300, 170])
    run = jax.jit(lambda *args: anti_aliased_snake_beta(*args))
    assert "conditional(" in run.lower(x, alpha, beta, lengths).compile().as_text()
    monkeypatch.setattr(activations, "materialised", lambda fn, *args, key: fn(*args))
    fused = jax.jit(lambda *args: anti_aliased_snake_beta(*args))
    assert "conditional(" not in fused.lower(x, alpha, beta, lengths).compile().as_text()
    np.testing.assert_array_equal(np.asarray(run(x, alpha, beta, lengths)), np.asarray(fused(x, alpha, beta, lengths)))
