"""The checkpointer refuses a non-finite state (on any array, sharded or not) and saves a finite one."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bigcodec_jax import data
from bigcodec_jax.training import config as train_config
from bigcodec_jax.training.checkpointing import Checkpointer, NonFiniteState
from bigcodec_jax.training.state import TrainState


def _state(bad_value: float = 1.0) -> TrainState:
    params = {"w": jnp.ones((3, 4)), "b": jnp.zeros(4)}
    return TrainState(step=jnp.array(1, jnp.int32), gen_params=params, disc_params={"d": jnp.ones(2)},
                      gen_opt_state={"mu": jnp.zeros((3, 4)), "nu": jnp.full((3, 4), bad_value)},
                      disc_opt_state=(), rng=jax.random.PRNGKey(0), nonfinite_in_a_row=jnp.array(0, jnp.int32),
                      nonfinite_total=jnp.array(0, jnp.int32))


@pytest.fixture
def checkpointer(tmp_path):
    config = train_config.recipe("tiny_train")
    config.checkpoint.async_save = False
    checkpointer = Checkpointer(str(tmp_path), config)
    yield checkpointer
    checkpointer.close()


@pytest.fixture
def iterator():
    cfg = data.default_config()
    cfg.segment_samples = 4000
    return iter(data.train_loader(cfg, 2, seed=0))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_state_is_never_saved(checkpointer, iterator, bad):
    with pytest.raises(NonFiniteState, match="step 1"):
        checkpointer.save(_state(bad), iterator, force=True)
    assert checkpointer.latest_step() is None


def test_finite_state_is_saved(checkpointer, iterator):
    assert checkpointer.save(_state(), iterator, force=True)
    checkpointer.wait()
    assert checkpointer.latest_step() == 1
