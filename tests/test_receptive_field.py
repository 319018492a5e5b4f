"""The receptive fields the chunked path and streaming rely on, declared by the layers, are exactly what the
model reads. A NaN placed at one input position turns every output that reads it into NaN (0 * NaN is NaN, so
even zero weights count, as in the declared spans): an output reads exactly `[lo, hi]` when NaNs at `lo` and `hi`
reach it and NaNs at `lo - 1` and `hi + 1` do not (what a stage reads is contiguous)."""
import jax.numpy as jnp
import numpy as np
import pytest

from bigcodec_jax import BigCodec
from bigcodec_jax.codec import config as config_lib
from bigcodec_jax.codec.receptive_field import contexts
from conftest import reference_path


@pytest.fixture(scope="module")
def codec():
    return BigCodec.from_pretrained(reference_path("tiny_train.pt"))


def assert_reads_exactly(codec, method, x: np.ndarray, output: int, span: tuple[int, int]) -> None:
    """Output position `output` of `method` on `x` (1, T, C) reads positions `span` of `x` and no others."""
    lo, hi = span
    probes = np.repeat(x, 4, axis=0)
    for row, position in enumerate((lo - 1, lo, hi, hi + 1)):
        probes[row, position] = np.nan
    y = np.asarray(codec.model.apply({"params": codec.params}, jnp.asarray(probes), method=method))
    reached = np.isnan(y[:, output]).reshape(4, -1).any(axis=1)
    assert reached.tolist() == [False, True, True, False], (span, reached)


def test_declared_spans_are_exact(codec):
    bound, hop, frames, frame = codec.model.bind({}), codec.hop_length, 64, 31
    rng = np.random.default_rng(0)
    wav = (0.1 * rng.standard_normal((1, frames * hop, 1))).astype(np.float32)
    assert_reads_exactly(codec, lambda m, x: m.encoder.features(x), wav, frame,
                         bound.encoder.features_span(frame, frame))
    width = codec.config.encoder.ngf * 2 ** len(codec.config.encoder.up_ratios)
    hidden = rng.standard_normal((1, frames, width)).astype(np.float32)
    assert_reads_exactly(codec, lambda m, x: m.encoder.head(x), hidden, frame, bound.encoder.head_span(frame, frame))
    latents = rng.standard_normal((1, frames, codec.config.decoder.upsample_initial_channel)).astype(np.float32)
    sample = frame * hop + 37
    assert_reads_exactly(codec, lambda m, x: m.decoder.head(x), latents, sample,
                         bound.decoder.head_span(sample, sample))


def test_contexts_of_the_released_model():
    """In frames: what the chunked path keeps around each chunk and streaming must wait for."""
    encoder, decoder = contexts(config_lib.freeze(config_lib.model_config("full")))
    assert (tuple(encoder.features), tuple(encoder.head)) == ((22, 21), (6, 6))
    assert (tuple(decoder.features), tuple(decoder.head)) == ((3, 3), (26, 27))
