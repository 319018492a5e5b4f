"""The shape shared by the encoder and the decoder: `features` -> `recur` -> `head`.

`features` and `head` are layer sequences of finite receptive field; `recur` is the
unidirectional LSTM, whose state carries over. The chunked path (`codec/chunking.py`) and
streaming run the three stages apart; `__call__` runs them at once.
"""
from __future__ import annotations

import flax.linen as nn
import jax

from bigcodec_jax.codec.blocks import Layer, Lengths, layers_output_lengths, layers_span, run_layers
from bigcodec_jax.nn.recurrent import LSTMState

RecurState = tuple[LSTMState, ...] | None


class StagedNetwork(nn.Module):
    """Subclasses define `feature_layers()`, `head_layers()` and `self.lstm` (None without an LSTM)."""

    def feature_layers(self) -> list[Layer]:
        raise NotImplementedError

    def head_layers(self) -> list[Layer]:
        raise NotImplementedError

    def __call__(self, x: jax.Array, lengths: Lengths = None) -> jax.Array:
        """`lengths`: valid frames of each example of a right-padded batch, at the input rate."""
        y, _ = self.recur(self.features(x, lengths))
        return self.head(y, None if lengths is None else layers_output_lengths(self.feature_layers(), lengths))

    def features(self, x: jax.Array, lengths: Lengths = None) -> jax.Array:
        return run_layers(self.feature_layers(), x, lengths)

    def recur(self, x: jax.Array, state: RecurState = None, steps: jax.Array | None = None
              ) -> tuple[jax.Array, RecurState]:
        """The LSTM stage from `state` (zeros when None): `(outputs, final state)`; with `steps`, only the
        first `steps` frames run and the state is the one after them (the outputs after them are filler)."""
        return self.lstm.run(x, state, steps) if self.lstm is not None else (x, state)

    def head(self, x: jax.Array, lengths: Lengths = None) -> jax.Array:
        """`lengths` in frames at the LSTM's rate."""
        return run_layers(self.head_layers(), x, lengths)

    def features_span(self, lo: int, hi: int) -> tuple[int, int]:
        """Input positions read by feature outputs `[lo, hi]` (inclusive)."""
        return layers_span(self.feature_layers(), lo, hi)

    def head_span(self, lo: int, hi: int) -> tuple[int, int]:
        """LSTM-output positions read by head outputs `[lo, hi]` (inclusive)."""
        return layers_span(self.head_layers(), lo, hi)
