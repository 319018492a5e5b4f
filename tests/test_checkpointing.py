"""The checkpointer refuses a non-finite state (on any array, sharded or not), saves a finite one, and
restores the data position, shared out to any number of processes."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bigcodec_jax import data
from bigcodec_jax.configs import base
from bigcodec_jax.training.checkpointing import Checkpointer, NonFiniteState, local_data_position
from bigcodec_jax.training.state import TrainState


def _state(bad_value: float = 1.0) -> TrainState:
    params = {"w": jnp.ones((3, 4)), "b": jnp.zeros(4)}
    return TrainState(step=jnp.array(1, jnp.int32), gen_params=params, disc_params={"d": jnp.ones(2)},
                      gen_opt_state={"mu": jnp.zeros((3, 4)), "nu": jnp.full((3, 4), bad_value)},
                      disc_opt_state=(), nonfinite_in_a_row=jnp.array(0, jnp.int32),
                      nonfinite_total=jnp.array(0, jnp.int32))


@pytest.fixture
def checkpointer(tmp_path):
    config = base.get_config()  # the recipe's checkpoint settings
    config.checkpoint.async_save = False
    checkpointer = Checkpointer(str(tmp_path), config)
    yield checkpointer
    checkpointer.close()


def iterator_config():
    cfg = data.default_config()
    cfg.segment_samples = 4000
    return cfg


@pytest.fixture
def iterator():
    return iter(data.train_loader(iterator_config(), 2, seed=0))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_state_is_never_saved(checkpointer, iterator, bad):
    with pytest.raises(NonFiniteState, match="step 1"):
        checkpointer.save(1, _state(bad), iterator, force=True)
    assert checkpointer.latest_step() is None


def test_finite_state_is_saved_and_restored_with_the_data_position(checkpointer, iterator):
    next(iterator), next(iterator)
    iterator.tally.bad = 3
    assert checkpointer.save(1, _state(), iterator, force=True)
    checkpointer.wait()
    assert checkpointer.latest_step() == 1
    fresh = iter(data.train_loader(iterator_config(), 2, seed=0))
    state = checkpointer.restore(jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), _state()), fresh)
    assert int(state.step) == 1 and fresh.get_state() == {"batches": 2, "bad_examples": 3, "examples_read": 4}
    np.testing.assert_array_equal(next(fresh)["wav"], next(iterator)["wav"])


def test_data_position_is_shared_out_to_any_process_count():
    position = {"batches": 7, "bad_examples": 5, "examples_read": 30}
    parts = [local_data_position(position, i, 3) for i in range(3)]
    assert [p["batches"] for p in parts] == [7, 7, 7]
    assert [p["bad_examples"] for p in parts] == [2, 2, 1] and sum(p["examples_read"] for p in parts) == 30
