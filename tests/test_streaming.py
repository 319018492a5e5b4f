"""Streaming encode and decode (`bigcodec_jax/streaming.py`, `codec/streaming.py`) equal offline for any push
pattern: codes identical to the official model's golden codes and to offline `encode`, audio to float32 rounding
of the golden `recon_from_codes` and offline `decode`; batches of streams that end at different lengths; one
compilation per block size; the lower-latency mode; clear errors that leave the stream usable."""
import os

import numpy as np
import pytest
import soundfile as sf

from bigcodec_jax import BigCodec
from bigcodec_jax import config as config_lib
from bigcodec_jax.codec.receptive_field import contexts
from bigcodec_jax.codec.streaming import stream_passes_for
from bigcodec_jax.inference import codes_file
from bigcodec_jax.inference.cli import main
from conftest import reference_path, relative_error
from test_inference_chunking import AUDIO_TOLERANCE, speech_like


BLOCKS = (1, 8)  # block sizes of every stream here: each (model, batch size, block size) compiles once


@pytest.fixture(scope="module")
def debug():
    """official_debug (8 quantizers) and a batch of 3: its two golden signals and a third signal; golden codes
    and audio for the first two rows. Every test streams 3 rows, so they share the compiled steps."""
    codec, golden = BigCodec.from_pretrained(reference_path("official_debug.pt")), np.load(reference_path("official_debug.npz"))
    wav = np.concatenate([golden["wav"], speech_like(0.5, 3)[None]])
    codes = codec.encode(wav)
    np.testing.assert_array_equal(codes[:2], np.transpose(golden["codes"], (1, 0, 2)))
    return codec, wav, codes, golden["recon_from_codes"]


def encoder(codec, **kwargs):
    return codec.stream_encoder(3, block_frames=BLOCKS, **kwargs)


def decoder(codec, **kwargs):
    return codec.stream_decoder(3, block_frames=BLOCKS, **kwargs)


def sizes(pattern, total):
    """Piece sizes cycling through `pattern` until `total` is covered."""
    out, i = [], 0
    while sum(out) < total:
        out.append(pattern[i % len(pattern)])
        i += 1
    return out


def stream(s, x, pieces, lengths=None, **flush):
    """Push `x` (time last) in pieces of the given sizes, then flush; the outputs joined on the time axis."""
    out, i = [], 0
    for n in pieces:
        piece = x[..., i:i + n]
        out.append(s.push(piece) if lengths is None else
                   s.push(piece, lengths=np.clip(lengths - i, 0, piece.shape[-1])))
        i += n
    out.append(s.flush(**flush))
    return np.concatenate(out, axis=-1)


def test_lookahead_is_the_receptive_field(debug):
    """The stream's lag, derived stage by stage from the layers' spans, is the model's receptive field."""
    for variant in ("full", "official_debug"):
        config = config_lib.freeze(config_lib.model_config(variant))
        passes, (enc, dec) = stream_passes_for(config, "float32"), contexts(config)
        assert passes.encode.lookahead == enc.features.right + enc.head.right
        assert passes.decode.lookahead == dec.features.right + dec.head.right
        if variant == "full":
            assert (12.5 * passes.encode.lookahead, 12.5 * passes.decode.lookahead) == (337.5, 375.0)
    codec = debug[0]
    assert (encoder(codec).latency_ms, decoder(codec).latency_ms) == (12.5 * 26, 12.5 * 28)
    assert encoder(codec, lookahead_frames=4).latency_ms == 50.0
    assert encoder(codec, lookahead_frames=100).latency_ms == 12.5 * 26


@pytest.mark.parametrize("pattern", [[1] * 450 + [199, 200, 0, 1000, 37], [3000, 1, 4999], [8000]],
                         ids=["single-samples", "uneven", "whole"])
def test_encoder_gives_the_golden_codes(debug, pattern):
    codec, wav, codes, _ = debug
    np.testing.assert_array_equal(stream(encoder(codec), wav, sizes(pattern, wav.shape[1])), codes)


@pytest.mark.parametrize("pattern", [[1], [2, 0, 5, 13], [40]], ids=["single-frames", "uneven", "whole"])
def test_decoder_gives_the_golden_audio(debug, pattern):
    codec, _, codes, golden = debug
    audio = stream(decoder(codec), codes, sizes(pattern, codes.shape[2]))
    assert audio.shape == (3, 8000) and audio.dtype == np.float32
    assert relative_error(audio[:2], golden) < 1e-5
    assert relative_error(audio, codec.decode(codes)) < 1e-5


def test_released_topology_streams_its_golden_results():
    """mini_default: the released model's 5 blocks and 2-layer LSTMs, narrow (one block size, 4 frames, filled
    up when fewer have arrived: one compilation per direction)."""
    codec, golden = BigCodec.from_pretrained(reference_path("mini_default.pt")), np.load(reference_path("mini_default.npz"))
    codes = stream(codec.stream_encoder(2, block_frames=(4,)), golden["wav"], sizes([1] * 300 + [777, 0, 1234], 8000))
    np.testing.assert_array_equal(codes, np.transpose(golden["codes"], (1, 0, 2)))
    audio = stream(codec.stream_decoder(2, block_frames=(4,)), codes, sizes([1, 3, 0, 7], codes.shape[2]))
    assert relative_error(audio, golden["recon_from_codes"]) < 1e-5


def test_batch_of_long_streams_of_different_lengths(debug):
    """Three signals (6, 4.1 and 2.3 s, not multiples of the hop) in one batch, random pieces; rows end through
    `lengths` while the others go on. Each row equals offline on that signal alone (through the offline pass's
    valid lengths, one compilation for the three); past its end, filler."""
    codec = debug[0]
    lengths = np.array([96000, 65613, 36857])
    frames = -(-lengths // codec.hop_length)
    wavs = np.zeros((3, frames.max() * codec.hop_length), np.float32)
    for row, n in enumerate(lengths):
        wavs[row, :n] = speech_like(n / 16000, row)
    rng = np.random.default_rng(0)
    codes = stream(encoder(codec), wavs, [int(n) for n in rng.integers(0, 3000, 200)], lengths=lengths)
    want = codec.passes.encode.run(codec.params, wavs, frames)
    assert codes.shape == want.shape
    for row, f in enumerate(frames):
        np.testing.assert_array_equal(codes[row, :, :f], want[row, :, :f])
        assert (codes[row, :, f:] == 0).all()
    audio = stream(decoder(codec), codes, [int(n) for n in rng.integers(0, 30, 200)], lengths=frames,
                   length=int(lengths.max()))
    want = codec.passes.decode.run(codec.params, codes, frames)
    assert audio.shape == (3, lengths.max())
    for row, f in enumerate(frames * codec.hop_length):
        assert relative_error(audio[row, :f], want[row, :f]) < AUDIO_TOLERANCE
        assert (audio[row, f:] == 0).all()


def test_no_recompilation_per_push_size(debug):
    """Once a stream has used each block size, streams with any other push sizes compile nothing more."""
    codec, wav, codes, _ = debug
    passes = stream_passes_for(codec.config, codec.dtype)
    stream(encoder(codec), wav, [200, 1600])
    stream(decoder(codec), codes, [1, 8])
    compiled = passes.encode.step._cache_size(), passes.decode.step._cache_size()
    for pattern in ([1, 7, 333], [0, 5000, 17, 2], [80000]):
        np.testing.assert_array_equal(stream(encoder(codec), wav, sizes(pattern, wav.shape[1])), codes)
    for pattern in ([1, 2], [9, 0, 3], [1000]):
        stream(decoder(codec), codes, sizes(pattern, codes.shape[2]))
    assert (passes.encode.step._cache_size(), passes.decode.step._cache_size()) == compiled


def test_lower_latency(debug):
    """`lookahead_frames=k` emits frame t once frame t + k is pushed (speculative flush), exact where the signal
    really ends; agreement with offline, measured on official_debug (random weights), is bounded below."""
    codec, wav, codes, golden = debug
    enc = encoder(codec, lookahead_frames=0)  # everything at once: the speculative flush is the real end
    np.testing.assert_array_equal(enc.push(wav), codes)
    assert enc.flush().shape == (3, 8, 0)
    enc = encoder(codec, lookahead_frames=4)
    assert [enc.push(wav[:, f * 200:(f + 1) * 200]).shape[2] for f in range(8)] == [0, 0, 0, 0, 1, 1, 1, 1]
    dec = decoder(codec, lookahead_frames=2)
    assert [dec.push(codes[:, :, f:f + 1]).shape[1] for f in range(4)] == [0, 0, 200, 200]
    measured = {}
    for k in (4, 16):
        streamed = stream(encoder(codec, lookahead_frames=k), wav, [200] * 40)
        audio = stream(decoder(codec, lookahead_frames=k), codes, [1] * 40)
        measured[k] = (streamed == codes).mean(), relative_error(audio[:2], golden)
    # Measured (random weights, frame by frame): codes agree 49 % (k = 4), 100 % (16); the audio differs by
    # 1.0 (4) and 1.6e-5 (16) of its peak. (The trained-model table is in the README.)
    assert measured[4][0] > 0.35 and measured[16][0] > 0.98, measured
    assert measured[16][1] < 1e-3, measured


def test_bad_pushes_raise_and_leave_the_stream_usable(debug):
    codec, wav, codes, golden = debug
    enc, out = encoder(codec), []
    out.append(enc.push(wav[:, :1000]))
    nan = wav[:, 1000:1100].copy()
    nan[1, 5] = np.nan
    for bad, lengths, message in ((wav[:1, 1000:1100], None, "batch=3"), (wav[0, 1000:1100], None, "batch=3"),
                                  ((wav[:, 1000:1100] * 1000).astype(np.int16), None, "floating point"),
                                  (nan, None, "finite"), (wav[:, 1000:1100], [1, 2], "lengths"),
                                  (wav[:, 1000:1100], [1, 2, 101], "lengths")):
        with pytest.raises(ValueError, match=message):
            enc.push(bad, lengths=lengths)
    out.append(enc.push(wav[:, 1000:]))
    out.append(enc.flush())
    np.testing.assert_array_equal(np.concatenate(out, axis=-1), codes)
    for call in (lambda: enc.push(wav[:, :10]), enc.flush):
        with pytest.raises(ValueError, match="flushed"):
            call()

    dec, pieces = decoder(codec), []
    pieces.append(dec.push(codes[:, :, :10]))
    for bad, message in ((codes[:, :, 10:12] + 1024, r"\[0, 1024\)"), (-codes[:, :, 10:12] - 1, r"\[0, 1024\)"),
                         (codes[:, :, 10:12].astype(np.float32), "integers"), (codes[:, :4, 10:12], "n_q=8"),
                         (codes[:1, :, 10:12], "batch=3")):
        with pytest.raises(ValueError, match=message):
            dec.push(bad)
    pieces.append(dec.push(codes[:, :, 10:]))
    with pytest.raises(ValueError, match="length"):
        dec.flush(length=40 * 200 + 1)
    pieces.append(dec.flush(length=7999))
    audio = np.concatenate(pieces, axis=-1)
    assert audio.shape == (3, 7999)
    assert relative_error(audio[:2], golden[:, :7999]) < 1e-5
    for make in (lambda: codec.stream_decoder(0), lambda: codec.stream_decoder(1, block_frames=(0, 4)),
                 lambda: codec.stream_encoder(1, lookahead_frames=-1)):
        with pytest.raises(ValueError):
            make()


def test_cli_decode_stream_writes_the_same_audio(debug, tmp_path):
    """`inference.py decode --stream` (codes pushed 8 frames at a time) writes what `decode` writes."""
    codec, _, codes, _ = debug
    fingerprint = codes_file.fingerprint(codec.params)
    os.makedirs(tmp_path / "codes")
    for row, length in enumerate((8000, 7777)):
        codes_file.save(str(tmp_path / "codes" / f"{row}.codes.npz"), codes[row], length, 16000, codec.config,
                        fingerprint)
    common = ["--checkpoint", reference_path("official_debug.pt"), "--batch-size", "2"]
    assert main(["decode", str(tmp_path / "codes"), "--output", str(tmp_path / "offline"), *common]) == 0
    assert main(["decode", str(tmp_path / "codes"), "--output", str(tmp_path / "stream"), "--stream", *common]) == 0
    for row, length in enumerate((8000, 7777)):
        offline, _ = sf.read(tmp_path / "offline" / f"{row}.wav")
        streamed, rate = sf.read(tmp_path / "stream" / f"{row}.wav")
        assert rate == 16000 and streamed.shape == offline.shape == (length,)
        assert np.abs(streamed - offline).max() <= 1 / 32768  # 16-bit PCM: at most one step of rounding apart
