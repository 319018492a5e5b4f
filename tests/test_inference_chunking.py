"""Long audio in chunks equals the whole file; the receptive fields it relies on are right and tight."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bigcodec_jax import BigCodec
from bigcodec_jax.inference.batch_codec import BatchCodec
from bigcodec_jax.inference.receptive_field import decoder_stages, encoder_stages, span
from conftest import COMMITTED_SET, reference_path

# Max |chunked - whole| of the decoded audio (tanh output, peak about 1), float32 on CPU: measured
# 0 (bit-identical) on tiny_train and on the committed micro set, at most 4e-6 on official_debug. Codes are identical.
AUDIO_TOLERANCE = 2e-5


def speech_like(seconds: float, seed: int) -> np.ndarray:
    """A chirp with amplitude modulation and noise: structure over the whole length, not silence."""
    t = np.arange(int(seconds * 16000)) / 16000
    rng = np.random.default_rng(seed)
    wav = 0.4 * np.sin(2 * np.pi * (120 + 300 * t) * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    return (wav + 0.02 * rng.standard_normal(len(t))).astype(np.float32)


@pytest.fixture(scope="module")
def codec():
    return BigCodec.from_pretrained(reference_path(COMMITTED_SET + ".pt"))


def footprint(fn, x: np.ndarray, output: int) -> tuple[int, int]:
    """First and last position along axis 1 of `x` that output position `output` of `fn` depends on."""
    grad = np.abs(np.asarray(jax.grad(lambda x: fn(x)[0, output].sum())(x)))
    used = np.nonzero(grad.reshape(grad.shape[0], grad.shape[1], -1).max(axis=(0, 2)))[0]
    return int(used.min()), int(used.max())


def assert_covers(span_lo: int, span_hi: int, used: tuple[int, int], center: int) -> None:
    """The computed span holds every position used, and reaches no more than 25 % further on each side.

    (Far from the centre the influence is a product of the filters' smallest taps over many layers,
    which underflows in float32, so the measured footprint is a little narrower than the true one.)
    """
    assert span_lo <= used[0] and used[1] <= span_hi, (span_lo, span_hi, used)
    assert center - used[0] >= 0.75 * (center - span_lo) and used[1] - center >= 0.75 * (span_hi - center)


def test_receptive_fields_cover_what_the_model_reads(codec):
    model, variables, hop = codec.model, {"params": codec.params}, codec.hop_length
    features, _ = encoder_stages(codec.config)
    _, head = decoder_stages(codec.config)
    frames, frame = 64, 31

    def encoder_features(wav):
        return model.apply(variables, wav[..., None], method=lambda m, x: m.encoder.features(x))

    def decoder_head(latents):
        return model.apply(variables, latents, method=lambda m, x: m.decoder.head(x))

    wav = jnp.asarray(speech_like(frames * hop / 16000, 0)[None])
    assert_covers(*span(features, frame, frame), footprint(encoder_features, wav, frame), frame * hop)
    width = codec.config.decoder.upsample_initial_channel
    latents = jnp.asarray(np.random.default_rng(1).standard_normal((1, frames, width)).astype(np.float32))
    sample = frame * hop + 37
    assert_covers(*span(head, sample, sample), footprint(decoder_head, latents, sample), frame)


def test_chunked_encode_and_decode_equal_the_whole_file(codec):
    """Two long clips in one lockstep batch (one ends chunks earlier) against the whole-file API."""
    batch = BatchCodec(codec, batch_size=2, window_seconds=1.0)
    assert batch.steps.encode.plan.new == 40 and batch.steps.decode.plan.new == 74  # several chunks each
    wavs = [speech_like(4.3, 1), speech_like(2.6, 2)]
    assert all(batch.bucket(codec.num_frames(len(w))) is None for w in wavs)  # both take the chunked path
    codes = batch.encode_batch(wavs)
    decoded = batch.decode_batch(codes, [len(w) for w in wavs])
    for wav, chunked_codes, chunked_wav in zip(wavs, codes, decoded):
        whole_codes = codec.encode(wav)[0]
        np.testing.assert_array_equal(chunked_codes, whole_codes)
        whole_wav = codec.decode(whole_codes, length=len(wav))[0]
        assert chunked_wav.shape == whole_wav.shape
        assert np.abs(chunked_wav - whole_wav).max() < AUDIO_TOLERANCE


def test_chunked_encode_equals_whole_with_golden_released_topology():
    """The released topology (5 blocks, 2-layer LSTMs: every layer's state carried) with golden weights."""
    codec = BigCodec.from_pretrained(reference_path("mini_default.pt"))
    wav = speech_like(2.2, 3)
    codes = BatchCodec(codec, batch_size=1, window_seconds=1.0).encode_batch([wav])[0]
    np.testing.assert_array_equal(codes, codec.encode(wav)[0])
