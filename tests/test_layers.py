"""Weight-normed convolutions and the LSTM against direct numpy versions of the PyTorch ops."""
import jax
import numpy as np
import pytest

from bigcodec_jax.nn.recurrent import ResLSTM
from bigcodec_jax.nn.weight_norm import WNConv, WNConvTranspose1d, WNDense


def torch_conv1d(x, w, b, stride=1, pad=0, dilation=1):
    """x (C_in, T), w (C_out, C_in, K) -> (C_out, T_out), PyTorch semantics."""
    xp = np.pad(x, ((0, 0), (pad, pad)))
    k = w.shape[2]
    span = dilation * (k - 1) + 1
    t_out = (xp.shape[1] - span) // stride + 1
    out = np.zeros((w.shape[0], t_out))
    for t in range(t_out):
        window = xp[:, t * stride:t * stride + span:dilation]
        out[:, t] = np.einsum("oik,ik->o", w, window)
    return out + b[:, None]


def torch_conv_transpose1d(x, w, b, stride, pad, output_pad):
    """x (C_in, T), w (C_in, C_out, K) -> (C_out, (T-1)s - 2p + K + op)."""
    k = w.shape[2]
    full = np.zeros((w.shape[1], (x.shape[1] - 1) * stride + k + output_pad))
    for m in range(x.shape[1]):
        full[:, m * stride:m * stride + k] += np.einsum("i,iok->ok", x[:, m], w)
    length = (x.shape[1] - 1) * stride - 2 * pad + k + output_pad
    return full[:, pad:pad + length] + b[:, None]


def normed(v, g, axes):
    return g * v / np.sqrt((v ** 2).sum(axis=axes, keepdims=True))


@pytest.mark.parametrize("stride,dilation,kernel,pad", [(1, 1, 7, 3), (1, 9, 7, 27), (2, 1, 4, 1), (5, 1, 10, 3)])
def test_wn_conv1d(stride, dilation, kernel, pad):
    rng = np.random.default_rng(kernel + dilation)
    x = rng.standard_normal((1, 60, 3)).astype(np.float32)
    layer = WNConv(4, (kernel,), strides=(stride,), padding=(pad,), dilation=(dilation,))
    params = layer.init(jax.random.PRNGKey(0), x)["params"]
    params = {"v": rng.standard_normal(params["v"].shape).astype(np.float32),
              "g": rng.uniform(0.5, 2, 4).astype(np.float32), "bias": rng.standard_normal(4).astype(np.float32)}
    got = np.asarray(layer.apply({"params": params}, x))[0].T
    w = normed(params["v"].transpose(2, 1, 0), params["g"][:, None, None], (1, 2))
    np.testing.assert_allclose(got, torch_conv1d(x[0].T, w, params["bias"], stride, pad, dilation), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("stride", [2, 4, 5])
def test_wn_conv_transpose1d(stride):
    rng = np.random.default_rng(stride)
    pad, out_pad = stride // 2 + stride % 2, stride % 2
    x = rng.standard_normal((1, 9, 3)).astype(np.float32)
    layer = WNConvTranspose1d(2, 2 * stride, stride, pad, out_pad)
    shape = layer.init(jax.random.PRNGKey(0), x)["params"]["v"].shape
    params = {"v": rng.standard_normal(shape).astype(np.float32), "g": rng.uniform(0.5, 2, 3).astype(np.float32),
              "bias": rng.standard_normal(2).astype(np.float32)}
    got = np.asarray(layer.apply({"params": params}, x))[0].T
    assert got.shape == (2, 9 * stride)
    w = normed(params["v"].transpose(1, 2, 0), params["g"][:, None, None], (1, 2))  # torch (in, out, k)
    want = torch_conv_transpose1d(x[0].T, w, params["bias"], stride, pad, out_pad)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_wn_dense():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 5, 6)).astype(np.float32)
    params = {"v": rng.standard_normal((6, 3)).astype(np.float32), "g": rng.uniform(0.5, 2, 3).astype(np.float32),
              "bias": rng.standard_normal(3).astype(np.float32)}
    got = np.asarray(WNDense(3).apply({"params": params}, x))
    w = normed(params["v"].T, params["g"][:, None], (1,))
    np.testing.assert_allclose(got, x @ w.T + params["bias"], rtol=1e-5, atol=1e-5)


def test_res_lstm_matches_pytorch_equations():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 7, 4)).astype(np.float32)
    layer = ResLSTM(num_layers=2)
    params = jax.tree.map(lambda a: rng.normal(0, 0.5, a.shape).astype(np.float32),
                          layer.init(jax.random.PRNGKey(0), x)["params"])
    got = np.asarray(layer.apply({"params": params}, x))
    sig = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    y = x.astype(np.float64)
    for k in range(2):
        w_ih, w_hh = params[f"layer_{k}_kernel_ih"].T, params[f"layer_{k}_kernel_hh"].T  # torch (4H, H)
        b = params[f"layer_{k}_bias_ih"] + params[f"layer_{k}_bias_hh"]
        h, c, outs = np.zeros((2, 4)), np.zeros((2, 4)), []
        for t in range(7):
            i, f, g, o = np.split(y[:, t] @ w_ih.T + h @ w_hh.T + b, 4, axis=-1)  # PyTorch gate order
            c = sig(f) * c + sig(i) * np.tanh(g)
            h = sig(o) * np.tanh(c)
            outs.append(h)
        y = np.stack(outs, 1)
    np.testing.assert_allclose(got, y + x, rtol=1e-5, atol=1e-5)
