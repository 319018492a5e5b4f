"""Long audio in chunks equals the whole file (the receptive fields it relies on: test_receptive_field.py)."""
import numpy as np
import pytest

from bigcodec_jax import BigCodec
from bigcodec_jax.inference.batch_codec import BatchCodec
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


def test_chunked_encode_and_decode_equal_the_whole_file(codec):
    """Two long clips in one lockstep batch (one ends chunks earlier) against the whole-file API."""
    batch = BatchCodec(codec, batch_size=2, window_seconds=1.0)
    assert batch.passes.encode.plan.new == 40 and batch.passes.decode.plan.new == 74  # several chunks each
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
