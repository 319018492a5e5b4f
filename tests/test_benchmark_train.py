"""`benchmark train` on CPU with the fast test config: a measured step, and a step compiled from shapes alone
(`--compile-only`) that reports the same program's memory and FLOPs without running it."""
import pytest

from bigcodec_jax import errors
from bigcodec_jax.benchmark import train
from run_configs.fast import get_config as fast_config


@pytest.fixture
def fast_recipe(monkeypatch):
    monkeypatch.setattr(train, "recipe", lambda variant: fast_config())  # the shapes the training tests compile


def test_compile_only_reports_the_memory_of_the_step_it_would_run(fast_recipe):
    compiled = train.measure("tiny_train", "float32", 2, 0.25, 2, compile_only=True)
    assert compiled["status"] == "compiled" and "step_s" not in compiled
    assert compiled["compiled_memory_gib"] > 0 and compiled["gflop_per_step"] > 0 and compiled["compile_s"] > 0
    assert train.format_row(compiled).split()[3:5] == ["-", "-"]  # no step time, no audio rate

    measured = train.measure("tiny_train", "float32", 2, 0.25, 2)
    assert measured["status"] == "ok" and measured["step_s"] > 0 and measured["runs"] == 2
    assert measured["audio_per_s"] == pytest.approx(2 * 0.25 / measured["step_s"])
    for key in ("compiled_memory_gib", "gflop_per_step"):  # the same program
        assert measured[key] == compiled[key], key


def test_a_crop_that_is_not_whole_frames_is_a_usage_error_before_compiling(fast_recipe):
    with pytest.raises(errors.UsageError, match=r"not a multiple of the hop length 200 \(from --seconds 0.0123"):
        train.measure("tiny_train", "float32", 2, 0.0123, 1, compile_only=True)
