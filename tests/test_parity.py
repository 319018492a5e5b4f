"""The Flax generator against the official PyTorch forward passes (golden data)."""
import jax.numpy as jnp
import numpy as np
import pytest

from bigcodec_jax.checkpoints import official
from bigcodec_jax.codec import BigCodecModel
from conftest import FORWARD_SETS, reference_path, relative_error


@pytest.fixture(scope="module", params=FORWARD_SETS)
def golden(request):
    name = request.param
    config, params = official.torch_to_flax(official.read_sections(reference_path(name + ".pt")))
    model = BigCodecModel(config)
    variables = {"params": params["generator"]}
    data = dict(np.load(reference_path(name + ".npz")))
    out = model.apply(variables, data["wav"])
    return model, variables, data, out


def channels_first(x):
    return np.transpose(np.asarray(x), (0, 2, 1))


def test_encoder_output(golden):
    _, _, data, out = golden
    assert relative_error(channels_first(out.latents), data["enc_out"]) < 1e-4


def test_codes_exact(golden):
    _, _, data, out = golden
    np.testing.assert_array_equal(np.transpose(np.asarray(out.codes), (1, 0, 2)), data["codes"])


def test_quantized(golden):
    _, _, data, out = golden
    assert relative_error(channels_first(out.quantized), data["quantized"]) < 1e-4


def test_reconstruction(golden):
    _, _, data, out = golden
    assert relative_error(out.recon, data["recon"]) < 1e-4


def test_vq_training_loss(golden):
    _, _, data, out = golden
    np.testing.assert_allclose(np.asarray(out.vq_loss), data["vq_loss_train"], rtol=1e-5)


def test_reconstruction_from_codes(golden):
    model, variables, data, _ = golden
    codes = jnp.asarray(np.transpose(data["codes"], (1, 0, 2)).astype(np.int32))
    wav = model.apply(variables, model.apply(variables, codes, method=model.embed), method=model.decode)
    assert relative_error(wav, data["recon_from_codes"]) < 1e-4
