"""Discriminators, spectrograms and GAN losses against the official PyTorch forward passes."""
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bigcodec_jax.checkpoints import official, torch_zip
from bigcodec_jax.codec.discriminators import Discriminators
from bigcodec_jax.nn import spectral
from bigcodec_jax.nn.spectral import magnitude, mel_spectrogram, stft_power
from bigcodec_jax.training import losses
from conftest import COMMITTED_SET, DISCRIMINATOR_SETS, reference_path, relative_error


@pytest.fixture(scope="module", params=DISCRIMINATOR_SETS)
def golden(request):
    config, params = official.torch_to_flax(official.read_sections(reference_path(request.param + ".pt")))
    data = dict(np.load(reference_path(request.param + ".npz")))
    apply = jax.jit(lambda wav: Discriminators(config).apply({"params": params["discriminators"]}, wav))
    return config, data, {"real": apply(data["wav"]), "fake": apply(data["recon"])}


def channels_first(x):
    x = np.asarray(x)
    return x.transpose(0, 3, 1, 2) if x.ndim == 4 else x


@pytest.mark.parametrize("side", ["real", "fake"])
def test_every_feature_map(golden, side):
    config, data, outputs = golden
    n_mpd = len(config.mpd.periods)
    assert len(outputs[side]) == n_mpd + len(config.mstft.stft_params.fft_sizes)
    for i, features in enumerate(outputs[side]):
        family, index = ("mpd", i) if i < n_mpd else ("mstft", i - n_mpd)
        assert len(features) == 6
        for j, feature in enumerate(features):
            assert relative_error(channels_first(feature), data[f"{family}_{side}_{index}_{j}"]) < 1e-4, (family, index, j)


def test_lsgan_terms(golden):
    _, data, outputs = golden
    real, fake = losses.discriminator_losses(outputs["real"][:1], outputs["fake"][:1])
    np.testing.assert_allclose(float(real), data["lsgan_real_0"], rtol=1e-5)
    np.testing.assert_allclose(float(fake), data["lsgan_fake_0"], rtol=1e-5)


def test_spectrogram_discriminator_input(golden):
    config, data, _ = golden
    stft = config.mstft.stft_params
    for i, (n_fft, hop) in enumerate(zip(stft.fft_sizes, stft.hop_sizes)):
        got = np.sqrt(np.clip(np.asarray(stft_power(data["wav"], n_fft, hop)), 1e-7, 1e3))
        assert relative_error(got, data[f"stft_mag_{i}"]) < 1e-5, i


def test_mel_spectrograms_and_loss(golden):
    _, data, _ = golden
    cfg = spectral.mel_distance_config()
    for i, (n_fft, n_mels) in enumerate(zip(cfg.window_lengths, cfg.n_mels)):
        got = np.asarray(mel_spectrogram(data["wav"], cfg.sample_rate, n_fft, n_mels)).transpose(0, 2, 1)
        assert relative_error(got, data[f"mel_{i}"]) < 1e-5, i
    np.testing.assert_allclose(float(spectral.mel_distance(data["recon"], data["wav"], cfg)), data["mel_loss"], rtol=1e-5)


@pytest.mark.parametrize("sample_rate", [16000, 22050, 24000])
def test_mel_filterbank_equals_librosas(sample_rate):
    librosa = pytest.importorskip("librosa")
    for n_fft, n_mels in [(32, 5), (256, 40), (1024, 80), (2048, 320), (2048, 128)]:
        ref = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=0.0, fmax=sample_rate / 2,
                                  htk=False, norm="slaney", dtype=np.float64).T.astype(np.float32)
        np.testing.assert_array_equal(spectral.mel_filterbank(sample_rate, n_fft, n_mels), ref)


def test_the_mel_loss_needs_no_audio_library():
    """Training's mel loss builds its filterbank in numpy: a machine without librosa can train."""
    code = ("import sys, numpy as np; from bigcodec_jax.nn import spectral; "
            "spectral.mel_distance(np.zeros((1, 4000), np.float32), np.ones((1, 4000), np.float32), "
            "spectral.mel_distance_config()); assert 'librosa' not in sys.modules, 'librosa imported'")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]


def test_gradients_finite_on_silence():
    """Zero-padded crops have all-zero frames; their magnitude must not give NaN gradients."""
    grad = jax.grad(lambda x: magnitude(stft_power(x, 64, 16)).sum())(np.zeros((1, 512), np.float32))
    assert np.all(np.isfinite(grad))
    loss_grad = jax.grad(lambda x: spectral.mel_distance(x, jnp.zeros_like(x), spectral.mel_distance_config()))(
        np.zeros((1, 4000), np.float32))
    assert np.all(np.isfinite(loss_grad))


def test_converter_checks_discriminator_shapes(tmp_path):
    sections = official.read_sections(reference_path(COMMITTED_SET + ".pt"))
    key = "discriminators.0.convs.2.0.weight_v"
    sections["discriminator"][key] = np.zeros((3, 3, 5, 1), np.float32)
    path = tmp_path / "bad.pt"
    torch_zip.save(sections, str(path))
    with pytest.raises(ValueError, match="shape mismatches: discriminator.discriminators.0.convs.2.0.weight_v"):
        official.torch_to_flax(official.read_sections(str(path)))
