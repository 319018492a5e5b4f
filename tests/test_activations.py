"""SnakeBeta and the polyphase anti-aliased activation against the official op sequence in numpy."""
import math

import numpy as np
import pytest

from bigcodec_jax.checkpoints import torch_zip
from bigcodec_jax.nn.activations import RESAMPLING_FILTER, anti_aliased_snake_beta, downsample2, snake_beta, upsample2
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


@pytest.mark.parametrize("length", [1, 2, 3, 8, 41])
def test_polyphase_resampling_equals_official(length):
    rng = np.random.default_rng(length)
    h = RESAMPLING_FILTER.astype(np.float64)
    x = rng.standard_normal(length)
    even, odd = upsample2(x[None, :, None].astype(np.float32))
    up = np.empty(2 * length)
    up[0::2], up[1::2] = np.asarray(even)[0, :, 0], np.asarray(odd)[0, :, 0]
    np.testing.assert_allclose(up, official_upsample(x, h), atol=1e-6)
    u = rng.standard_normal(2 * length)
    down = downsample2(u[0::2][None, :, None].astype(np.float32), u[1::2][None, :, None].astype(np.float32))
    np.testing.assert_allclose(np.asarray(down)[0, :, 0], official_downsample(u, h), atol=1e-6)


def test_anti_aliased_snake_beta_equals_official_chain():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 30, 3)).astype(np.float32)
    alpha, beta = rng.normal(0, 0.5, 3).astype(np.float32), rng.normal(0, 0.5, 3).astype(np.float32)
    got = np.asarray(anti_aliased_snake_beta(x, alpha, beta))
    h = RESAMPLING_FILTER.astype(np.float64)
    for b in range(2):
        for c in range(3):
            u = official_upsample(x[b, :, c].astype(np.float64), h)
            u = u + 1 / (np.exp(beta[c]) + 1e-9) * np.sin(u * np.exp(alpha[c])) ** 2
            np.testing.assert_allclose(got[b, :, c], official_downsample(u, h), atol=2e-6)


def test_snake_beta_formula():
    x = np.linspace(-3, 3, 7, dtype=np.float32)[None, :, None]
    got = np.asarray(snake_beta(x, np.float32([0.3]), np.float32([-0.2])))
    want = x + 1 / (np.exp(-0.2) + 1e-9) * np.sin(x * np.exp(0.3)) ** 2
    np.testing.assert_allclose(got, want, rtol=1e-6)
