"""X-Codec2 / NeuCodec long audio: the chunk plan tiles every frame once, short clips run whole, long ones in
window-sized chunks with as many codes and samples as the whole run, and bad windows are refused in one line."""
from __future__ import annotations

import numpy as np
import pytest

from bigcodec_jax.family_api import XCodec2
from bigcodec_jax.xcodec2 import windows

WINDOW_S = 1.2  # 60 frames: the 4 s clip below runs in chunks, the 1 s clip whole
CONTEXT = 12    # frames (0.2 of the window)


@pytest.mark.parametrize("frames,window,context", [(1, 1, 0), (60, 60, 12), (61, 60, 12), (200, 60, 12),
                                                   (1000, 60, 29), (257, 100, 0), (3001, 1500, 300)])
def test_the_plan_keeps_every_frame_once_with_its_context(frames, window, context):
    chunks = windows.plan(frames, window, context)
    kept = np.concatenate([np.arange(c.keep_start, c.keep_stop) for c in chunks])
    assert np.array_equal(kept, np.arange(frames))
    for c in chunks:
        assert c.stop - c.start == min(window, frames) and 0 <= c.start and c.stop <= frames
        assert c.keep_start - c.start >= min(context, c.keep_start)            # context, or the clip's start
        assert c.stop - c.keep_stop >= min(context, frames - c.keep_stop)      # context, or the clip's end
    if frames <= window:
        assert chunks == [windows.Chunk(0, frames, 0, frames)]


def test_a_window_with_no_room_left_and_a_crossfade_outside_the_chunks_are_refused():
    with pytest.raises(ValueError, match="leaves nothing to keep"):
        windows.plan(100, 20, 10)
    chunks = windows.plan(100, 40, 4)
    outputs = [np.ones((c.stop - c.start) * 2) for c in chunks]
    assert np.array_equal(windows.stitch(outputs, chunks, 2, 16), np.ones(200))  # a crossfade of equal pieces
    with pytest.raises(ValueError, match="reaches outside"):
        windows.stitch(outputs, chunks, 2, 18)


@pytest.fixture(scope="module")
def codecs():
    whole = XCodec2.random("neucodec", size="micro")
    return whole, XCodec2(whole.config, whole.params, window_seconds=WINDOW_S)


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), "30", True, None, 0.5])
def test_bad_windows_are_refused_in_one_line(codecs, bad):
    with pytest.raises(ValueError) as refused:
        XCodec2(codecs[0].config, codecs[0].params, window_seconds=bad)
    assert "\n" not in str(refused.value) and "window" in str(refused.value)


def _speechlike(samples: int, seed: int) -> np.ndarray:
    t = np.arange(samples) / 16000
    rng = np.random.default_rng(seed)
    return (0.3 * np.sin(2 * np.pi * 140 * t * (1 + 0.1 * np.sin(3 * t))) * (0.6 + 0.4 * np.sin(5 * t))
            + 0.02 * rng.standard_normal(samples)).astype(np.float32)


def test_a_clip_within_the_window_runs_whole_bit_identical(codecs):
    whole, windowed = codecs
    wav = _speechlike(16000, 1)
    codes = windowed.encode(wav)
    assert np.array_equal(codes, whole.encode(wav))
    assert np.array_equal(windowed.decode(codes), whole.decode(codes))


def test_a_long_clip_runs_in_window_sized_chunks_with_the_whole_runs_lengths(codecs, monkeypatch):
    whole, windowed = codecs
    wav, short = _speechlike(64123, 2), _speechlike(16000, 3)
    shapes = {"encode": set(), "decode": set()}
    encode, decode = windowed._encode, windowed._decode
    monkeypatch.setattr(windowed, "_encode", lambda p, w, f, *a: shapes["encode"].add((w.shape, f.shape))
                        or encode(p, w, f, *a))
    monkeypatch.setattr(windowed, "_decode", lambda p, c, *a: shapes["decode"].add(c.shape) or decode(p, c, *a))
    reference = whole.encode(wav)
    codes = windowed.encode(wav)
    assert codes.shape == reference.shape and codes.dtype == np.int32
    assert (codes == reference).mean() > 0.5   # the micro model's codes mostly agree away from chunk edges
    batch = windowed.encode_batch([wav, short])
    assert np.array_equal(batch[0], codes[0]) and np.array_equal(batch[1], whole.encode(short)[0])
    audio = windowed.decode(codes)
    assert audio.shape == whole.decode(codes).shape
    decoded = windowed.decode_batch(batch)
    assert np.allclose(decoded[0], audio[0], atol=1e-5) and decoded[1].shape == (batch[1].shape[-1] * 480,)
    window = windowed.window_frames  # every compiled shape is at most a window; the chunks' are exactly one
    assert all(w[1] <= (window + 1) * 320 and f[1] <= window for w, f in shapes["encode"])
    assert {((1, (window + 1) * 320), (1, window, 160)), ((2, (window + 1) * 320), (2, window, 160))} \
        <= shapes["encode"]
    assert all(c[2] <= window for c in shapes["decode"]) and {(1, 1, window), (2, 1, window)} <= shapes["decode"]
