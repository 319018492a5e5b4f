"""A unidirectional multi-layer PyTorch-style LSTM with a residual skip, as a `lax.scan`.

The input projection `x W_ih + b_ih + b_hh` is computed for all frames at once (one large
matmul) before the scan; only `h W_hh` stays inside the loop. Gate order is PyTorch's:
input, forget, cell, output. A stream's block loops over its real frames only (`steps`).
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

LSTMState = tuple[jax.Array, jax.Array]


def lstm_cell(gates: jax.Array, c: jax.Array) -> LSTMState:
    """One step's new `(h, c)` from its gate pre-activations `(B, 4H)` (all products and biases summed)."""
    i, f, g, o = jnp.split(gates, 4, axis=-1)
    c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
    return jax.nn.sigmoid(o) * jnp.tanh(c), c


def lstm_layer(x_proj: jax.Array, w_hh: jax.Array, state: LSTMState, steps: jax.Array | None = None
               ) -> tuple[jax.Array, LSTMState]:
    """Run one LSTM layer over time given the precomputed input projection `(B, T, 4H)`.

    `steps` (a scalar in `0..T`, for streaming): only the first `steps` frames run, one loop step
    each (the rest of a stream's block is filler, and the recurrence is paid per step); their
    outputs follow, zeros after them, and the final state is the one after them.
    """

    def step(carry: LSTMState, gates_x: jax.Array) -> tuple[LSTMState, jax.Array]:
        h, c = lstm_cell(gates_x + carry[0] @ w_hh, carry[1])
        return (h, c), h

    def step_at(t: jax.Array, carry: tuple[LSTMState, jax.Array]) -> tuple[LSTMState, jax.Array]:
        state, hs = carry
        state, h = step(state, x_proj[t])
        return state, hs.at[t].set(h)

    x_proj = jnp.swapaxes(x_proj, 0, 1)
    if steps is None:
        state, hs = jax.lax.scan(step, state, x_proj)
    else:
        hs = jnp.zeros(x_proj.shape[:2] + state[0].shape[-1:], state[0].dtype)
        state, hs = jax.lax.fori_loop(0, steps, step_at, (state, hs))
    return jnp.swapaxes(hs, 0, 1), state


class ResLSTM(nn.Module):
    """`y = LSTM(x) + x` over `(B, T, C)`, zero initial state; layers `layer_k` hold PyTorch's tensors."""

    num_layers: int
    dtype: jnp.dtype = jnp.float32

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.run(x)[0]

    @nn.compact
    def run(self, x: jax.Array, state: tuple[LSTMState, ...] | None = None, steps: jax.Array | None = None
            ) -> tuple[jax.Array, tuple[LSTMState, ...]]:
        """`(y, final (h, c) of every layer)` starting from `state` (zeros when None).

        Running a long sequence in consecutive pieces, each from the previous piece's final
        state, gives the same outputs as running it at once. `steps`: only the first `steps` frames
        run (a stream's block whose later frames are filler); the final state is the one after them.
        """
        features = x.shape[-1]
        bound = features ** -0.5  # PyTorch's LSTM initialisation: U(-1/sqrt(H), 1/sqrt(H))
        init = nn.initializers.uniform(2 * bound)
        shifted = lambda rng, shape: init(rng, shape) - bound  # noqa: E731
        x = x.astype(self.dtype)
        if state is None:
            zeros = jnp.zeros((x.shape[0], features), self.dtype)
            state = ((zeros, zeros),) * self.num_layers
        y, final = x, []
        for k in range(self.num_layers):
            w_ih = self.param(f"layer_{k}_kernel_ih", shifted, (features, 4 * features)).astype(self.dtype)
            w_hh = self.param(f"layer_{k}_kernel_hh", shifted, (features, 4 * features)).astype(self.dtype)
            b_ih = self.param(f"layer_{k}_bias_ih", shifted, (4 * features,)).astype(self.dtype)
            b_hh = self.param(f"layer_{k}_bias_hh", shifted, (4 * features,)).astype(self.dtype)
            y, layer_state = lstm_layer(y @ w_ih + (b_ih + b_hh), w_hh, state[k], steps)
            final.append(layer_state)
        return y + x, tuple(final)
