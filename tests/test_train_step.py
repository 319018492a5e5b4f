"""The jitted GAN step against two official training steps (<set>_train.npz of each training golden set).

Tolerances come from the official code's own float32-vs-float64 spread on this data (issue 4):
losses 1e-4 relative, step-0 gradients 3e-3 relative per tensor by norm, and the updates after
two steps within 2e-7 plus two float32 ulps for at least 99.9 % of elements, all within 4e-5.
"""
import jax
import numpy as np
import pytest

from bigcodec_jax.checkpoints import layout, official
from bigcodec_jax.configs import base
from bigcodec_jax.training import state as state_lib
from bigcodec_jax.training.step import make_train_step
from conftest import TRAINING_SETS, reference_path

LOSSES = {"real_loss": "loss/real", "fake_loss": "loss/fake", "disc_loss": "loss/disc", "mel_loss": "loss/mel",
          "adv_loss": "loss/adv", "fm_loss": "loss/fm", "vq_loss": "loss/vq", "gen_loss": "loss/gen"}


@pytest.fixture(scope="module", params=TRAINING_SETS)
def run(request):
    model_config, params = official.torch_to_flax(official.read_sections(reference_path(request.param + ".pt")))
    config = base.get_config()  # the paper recipe's losses and optimiser, around the golden model
    config.model = model_config
    models = state_lib.build_models(config)
    state0 = state_lib.create_state(models, params["generator"], params["discriminators"])
    golden = dict(np.load(reference_path(request.param + "_train.npz")))
    with jax.default_matmul_precision("highest"):
        step = jax.jit(make_train_step(models, config, debug=True))
        state1, metrics0 = step(state0, golden["wav"])
        state2, metrics1 = step(state1, golden["wav"])
    return dict(config=model_config, step=step, states=(state0, state1, state2), metrics=(metrics0, metrics1),
                golden=golden)


def _tensors(tree_by_side, config):
    """torch name -> numpy array in PyTorch layout, for every trainable tensor."""
    out = {}
    for entry in layout.entries(config, layout.GENERATOR_SECTIONS + layout.DISCRIMINATOR_SECTIONS):
        if not entry.kind.buffer:
            node = tree_by_side[entry.path[0]]
            for key in entry.path[1:]:
                node = node[key]
            out[entry.torch_name] = entry.kind.to_torch(np.asarray(node))
    return out


@pytest.mark.parametrize("k", [0, 1])
def test_losses_learning_rate_and_codes(run, k):
    metrics, golden = run["metrics"][k], run["golden"]
    for name, key in LOSSES.items():
        np.testing.assert_allclose(float(metrics[key]), golden[f"{name}_{k}"], rtol=1e-4, err_msg=name)
    np.testing.assert_allclose(float(metrics["lr"]), golden[f"lr_{k}"], rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(metrics["codes"]).transpose(1, 0, 2), golden[f"codes_{k}"])  # (n_q, B, F)


def test_step0_gradients(run):
    metrics, golden = run["metrics"][0], run["golden"]
    grads = _tensors({"generator": metrics["grads/gen"], "discriminators": metrics["grads/disc"]}, run["config"])
    assert len(grads) == len([k for k in golden if k.startswith(("grad_g/", "grad_d/"))])
    for name, grad in grads.items():
        want = golden[("grad_d/" if name.startswith(("discriminator", "spec_")) else "grad_g/") + name]
        assert np.linalg.norm(grad - want) <= 3e-3 * np.linalg.norm(want), name


def test_parameters_after_two_steps(run):
    golden, (state0, _, state2) = run["golden"], run["states"]
    side = lambda s: {"generator": s.gen_params, "discriminators": s.disc_params}  # noqa: E731
    before, after = _tensors(side(state0), run["config"]), _tensors(side(state2), run["config"])
    within, total = 0, 0
    for name in before:
        want = golden[f"param_after/{name}"]
        error = np.abs((after[name] - before[name]) - (want - before[name]))
        assert error.max() <= 4e-5, name
        within += int(np.sum(error <= 2e-7 + 2 * np.spacing(np.abs(want))))
        total += error.size
    assert within >= 0.999 * total, f"{total - within} of {total} elements off"


def test_nonfinite_batch_skips_both_updates(run):
    step, (_, state1, _) = run["step"], run["states"]
    bad = run["golden"]["wav"].copy()
    bad[0, 100] = np.nan
    with jax.default_matmul_precision("highest"):
        state, metrics = step(state1, bad)
    assert int(metrics["nonfinite/skipped_gen"]) == 1 and int(metrics["nonfinite/skipped_disc"]) == 1
    assert int(state.nonfinite_in_a_row) == 1 and int(state.nonfinite_total) == 2 and int(state.step) == 2
    for new, old in zip(jax.tree.leaves((state.gen_params, state.disc_params, state.gen_opt_state)),
                        jax.tree.leaves((state1.gen_params, state1.disc_params, state1.gen_opt_state))):
        np.testing.assert_array_equal(np.asarray(new), np.asarray(old))
