"""`benchmark recurrence`: every other way of computing the LSTM equals the model's scan, and a real CPU run."""
import json
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bigcodec_jax.benchmark import recurrence
from bigcodec_jax.nn.recurrent import ResLSTM


def _lstm(layers: int, width: int = 16, frames: int = 13, batch: int = 3):
    params = ResLSTM(layers).init(jax.random.PRNGKey(layers), jnp.zeros((1, 2, width)))["params"]
    x = jnp.asarray(np.random.default_rng(layers).normal(0, 0.7, (batch, frames, width)).astype(np.float32))
    return params, x, np.asarray(ResLSTM(layers).apply({"params": params}, x))


@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("name", ["unroll8", "wavefront"])
def test_ways_equal_the_models_scan_in_float32(name, layers):
    params, x, expected = _lstm(layers)
    got = np.asarray(jax.jit(recurrence.way(name, layers, jnp.float32))(params, x))
    # every frame, the last ones too (a wavefront's deeper layers finish after the input has ended)
    np.testing.assert_allclose(got, expected, rtol=0, atol=2e-6 * np.abs(expected).max())


def test_cudnn_weights_are_in_the_layout_jax_unpacks_and_give_the_models_lstm():
    from jax.experimental import rnn

    layers, width = 2, 16
    params, x, expected = _lstm(layers, width)
    flat = recurrence.cudnn_weights(params, layers)
    w_ih, w_hh, b_ih, b_hh = rnn.unpack_lstm_weights(flat, width, width, layers, False)
    for k in range(layers):  # PyTorch's (4H, H) matrices, gates in its order
        np.testing.assert_array_equal(w_ih[k], np.asarray(params[f"layer_{k}_kernel_ih"]).T)
        np.testing.assert_array_equal(b_hh[k], params[f"layer_{k}_bias_hh"])
    zeros = jnp.zeros((layers, x.shape[0], width))
    y, _, _ = rnn.lstm_ref(x, zeros, zeros, w_ih, w_hh, b_ih, b_hh, jnp.full((x.shape[0],), x.shape[1], jnp.int32),
                           width, width, layers, 0.0, False)  # the CPU's reference for what cuDNN computes
    np.testing.assert_allclose(np.asarray(y + x), expected, rtol=0, atol=2e-6 * np.abs(expected).max())


def test_runs_on_cpu_within_its_budget_and_writes_every_row(tmp_path):
    out = tmp_path / "rec.json"
    run = subprocess.run([sys.executable, "-m", "bigcodec_jax.benchmark", "recurrence", "--variant", "mini_default",
                          "--seconds", "0.5", "--batch-sizes", "2", "3", "--dtypes", "float32", "--repeats", "1",
                          "--budget-seconds", "120", "--output", str(out)], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(out.read_text())
    assert (report["width"], report["layers"], report["frames"]) == (256, 2, 40)
    # each way at every batch size, the model's scan first and cuDNN last
    assert [(row["way"], row["batch"]) for row in report["rows"]] == [(w, b) for w in recurrence.WAYS for b in (2, 3)]
    for row in report["rows"]:
        if row["way"] == "cudnn":
            assert row["status"] == "skipped" and "GPU" in row["reason"]
            continue
        assert row["status"] == "ok" and row["call_s"] > 0 and row["compile_s"] > 0
        if row["way"] != "scan":  # compared with the scan's output at the same shape
            assert row["max_diff"] < 1e-5
    assert "wavefront" in run.stdout


def test_what_does_not_fit_the_budget_is_skipped_with_the_reason(tmp_path):
    out = tmp_path / "rec.json"
    run = subprocess.run([sys.executable, "-m", "bigcodec_jax.benchmark", "recurrence", "--variant", "tiny_train",
                          "--seconds", "0.5", "--batch-sizes", "2", "--dtypes", "float32", "--budget-seconds", "0",
                          "--output", str(out)], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    assert [row["status"] for row in rows] == ["skipped"] * len(recurrence.WAYS)
    assert all("left" in row["reason"] or "GPU" in row["reason"] for row in rows)
