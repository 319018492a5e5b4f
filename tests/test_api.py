"""The public `BigCodec` API: shapes, padding, resampling, input errors, jit reuse, bfloat16."""
import numpy as np
import pytest

from bigcodec_jax import BigCodec
from conftest import COMMITTED_SET, reference_path, relative_error


@pytest.fixture(scope="module")
def codec():
    return BigCodec.from_pretrained(reference_path("official_debug.pt"))


@pytest.fixture(scope="module")
def golden():
    return dict(np.load(reference_path("official_debug.npz")))


@pytest.mark.parametrize("golden_set", [COMMITTED_SET, "official_debug"])
def test_encode_and_decode_match_golden(golden_set):
    codec = BigCodec.from_pretrained(reference_path(golden_set + ".pt"))
    golden = dict(np.load(reference_path(golden_set + ".npz")))
    codes = codec.encode(golden["wav"], sample_rate=16000)
    n_q, batch, frames = golden["codes"].shape  # official_debug: 8 quantizers, 2 clips of 40 frames
    assert codes.dtype == np.int32 and codes.shape == (batch, n_q, frames)
    np.testing.assert_array_equal(codes, np.transpose(golden["codes"], (1, 0, 2)))
    wav = codec.decode(codes)
    assert wav.dtype == np.float32 and wav.shape == golden["wav"].shape
    assert relative_error(wav, golden["recon_from_codes"]) < 1e-4


@pytest.mark.parametrize("samples,frames", [(1, 1), (199, 1), (200, 1), (201, 2), (7777, 39)])
def test_odd_lengths_are_padded_then_trimmed(codec, golden, samples, frames):
    batch = 1 if samples == 1 else 2  # (2, 1) would look like one channel of 2 samples and be refused
    codes = codec.encode(golden["wav"][:batch, :samples])
    assert codes.shape == (batch, 8, frames)
    assert codec.decode(codes, length=samples).shape == (batch, samples)
    assert codec.decode(codes).shape == (batch, frames * 200)


def test_padding_is_zeros_at_the_end(codec, golden):
    x = golden["wav"][:1, :7777]
    padded = np.pad(x, ((0, 0), (0, 23)))
    np.testing.assert_array_equal(codec.encode(x), codec.encode(padded))


def test_mono_1d_input_and_batches(codec, golden):
    one = codec.encode(golden["wav"][0])
    assert one.shape == (1, 8, 40)
    np.testing.assert_array_equal(one[0], codec.encode(golden["wav"])[0])
    three = codec.encode(np.concatenate([golden["wav"], golden["wav"][:1]]))
    assert three.shape == (3, 8, 40)
    np.testing.assert_array_equal(three[2], one[0])
    assert codec.decode(three[0, :, :10]).shape == (1, 2000)  # (n_q, frames) -> batch of one


def test_other_sample_rate_is_resampled(codec, golden):
    codes = codec.encode(golden["wav"][:, ::2], sample_rate=8000)  # 4000 samples at 8 kHz = 0.5 s
    assert codes.shape == (2, 8, 40)
    codes = codec.encode(np.zeros(44100, np.float32), sample_rate=44100)
    assert codes.shape == (1, 8, 80)


@pytest.mark.parametrize("bad,message", [
    (np.zeros((1, 0), np.float32), "empty"),
    (np.zeros(0, np.float32), "empty"),
    (np.full((1, 4000), np.nan, np.float32), "NaN"),
    (np.array([0.0, np.inf] * 200, np.float32), "NaN or infinite"),
    (np.zeros((1, 2, 400), np.float32), "shape"),
    (np.array(["a", "b"]), "floating-point"),
    (np.zeros(400, np.int16), "floating-point"),
])
def test_bad_audio_gets_a_clear_error(codec, bad, message):
    with pytest.raises(ValueError, match=message):
        codec.encode(bad, sample_rate=16000)


@pytest.mark.parametrize("rate", [0, -16000, 16000.5])
def test_bad_sample_rate(codec, rate):
    with pytest.raises(ValueError, match="sample_rate"):
        codec.encode(np.zeros(400, np.float32), sample_rate=rate)


@pytest.mark.parametrize("codes,length,message", [
    (np.zeros((1, 3, 5), np.int32), None, "codes must be"),
    (np.full((1, 8, 5), 1024, np.int32), None, r"\[0, 1024\)"),
    (np.zeros((1, 8, 5), np.float32), None, "integers"),
    (np.zeros((1, 8, 5), np.int32), 1001, "length"),
    (np.zeros((1, 8, 0), np.int32), None, "frames > 0"),
])
def test_bad_codes_get_a_clear_error(codec, codes, length, message):
    with pytest.raises(ValueError, match=message):
        codec.decode(codes, length=length)


def test_compiled_functions_are_reused_per_shape(codec, golden):
    encode = codec.passes.encode.whole
    before = encode._cache_size()
    for _ in range(3):
        codec.encode(golden["wav"][:, :4321])
    codec.encode(golden["wav"][:, :4400])  # pads to the same 4400 samples: same compiled function
    assert encode._cache_size() == before + 1


def test_bfloat16_is_close_to_float32(codec, golden):
    """Measured on these random official_debug weights: RMS difference 2.1 %, 94 % of codes equal."""
    fast = BigCodec.from_pretrained(reference_path("official_debug.pt"), dtype="bfloat16")
    codes = np.transpose(golden["codes"], (1, 0, 2)).astype(np.int32)
    a, b = codec.decode(codes), fast.decode(codes)
    assert b.dtype == np.float32
    assert np.sqrt(np.mean((a - b) ** 2) / np.mean(a ** 2)) < 0.05
    assert (fast.encode(golden["wav"]) == codes).mean() > 0.85


def test_unknown_dtype(golden):
    with pytest.raises(ValueError, match="dtype"):
        BigCodec.from_pretrained(reference_path("official_debug.pt"), dtype="float16")


def test_random_codec_round_trip():
    codec = BigCodec.random("tiny_train", seed=0)
    wav = codec.decode(codec.encode(np.sin(np.arange(3000) / 10).astype(np.float32)), length=3000)
    assert wav.shape == (1, 3000) and np.isfinite(wav).all()
