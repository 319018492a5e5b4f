"""Long audio in chunks equals the whole file (the receptive fields it relies on: test_receptive_field.py), down
to the shortest window each model takes."""
import re

import numpy as np
import pytest
import soundfile as sf

from bigcodec_jax import BigCodec, errors
from bigcodec_jax.codec import config as config_lib
from bigcodec_jax.codec.chunking import ChunkPlan, run_chunked
from bigcodec_jax.codec.passes import shortest_window
from bigcodec_jax.codec.receptive_field import contexts
from bigcodec_jax.inference.batch_codec import BatchCodec
from bigcodec_jax.inference.cli import main
from run_configs.fast import get_config
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
    window = codec.shortest_window_seconds()  # 65 frames, as the released model's
    assert window == 0.8125
    codes = BatchCodec(codec, batch_size=1, window_seconds=window).encode_batch([wav])[0]
    np.testing.assert_array_equal(codes, codec.encode(wav)[0])


def _box(x: np.ndarray, context, length: np.ndarray) -> np.ndarray:
    """A stand-in stage that reads exactly its context: `y[t]` sums `x[t - left .. t + right]`, `x` zero past each
    row's `length` (the masking) and outside the array (an edge)."""
    x = np.where(np.arange(x.shape[1]) < np.asarray(length)[:, None], x, 0)
    padded = np.pad(np.cumsum(x, axis=1), [(0, 0), (context.left + 1, context.right)], mode="edge")
    padded[:, :context.left + 1] = 0
    return padded[:, context.left + context.right + 1:] - padded[:, :x.shape[1]]


def _stand_in_step(plan: ChunkPlan):
    """`BigCodecModel._chunk` over stand-in stages: features and head are `_box`es of the plan's contexts, the
    recurrence a running sum whose state carries over."""
    def step(x, input_lengths, window_lengths, state=None, history=None):
        start = 0 if history is None else plan.features.left
        y = _box(x, plan.features, input_lengths)[:, start:start + plan.new]
        y = np.cumsum(y, axis=1) + (0 if state is None else state)
        window = y if history is None else np.concatenate([history, y], axis=1)
        return _box(window, plan.head, window_lengths), y[:, -1:], window[:, window.shape[1] - plan.history:]
    return step


def _networks():
    """(name, contexts of one network) of every model variant, the committed micro set and the fast test config."""
    configs = {v: config_lib.model_config(v) for v in config_lib.VARIANTS}
    configs["micro"] = BigCodec.from_pretrained(reference_path(COMMITTED_SET + ".pt")).config
    configs["fast"] = get_config().model
    return [(f"{name}-{side}", config_lib.freeze(config), network) for name, config in configs.items()
            for side, network in zip(("encoder", "decoder"), contexts(config_lib.freeze(config)))]


def test_every_model_is_exact_from_its_shortest_window():
    """The chunked path's slicing and joining (`run_chunked`, the real one) over stand-in stages with the contexts
    of each released variant's encoder and decoder: from the shortest window the model takes, on (1 frame in a
    step), a batch whose rows end in different chunks equals the whole batch at once, row by row up to its end.
    (The released model's shortest is 65 frames, from its encoder: 22 frames of context before the features.)"""
    rng = np.random.default_rng(0)
    for name, config, network in _networks():
        shortest = shortest_window(config)
        for window in (shortest, shortest + 1, shortest + 3, 2 * shortest):
            plan = ChunkPlan(window, *network)
            frames = np.array([window + 1, 3 * window + 5, 7 * window - 2, 2 * window])
            x = rng.integers(-9, 10, (len(frames), int(frames.max())))
            got = run_chunked(_stand_in_step(plan), plan, x, frames, 1, 1, np.asarray)
            for row, n in enumerate(frames):
                whole = _box(np.cumsum(_box(x[row:row + 1, :n], plan.features, [n]), axis=1), plan.head, [n])
                np.testing.assert_array_equal(got[row:row + 1, :n], whole, err_msg=f"{name}, window {window}")
    assert shortest_window(config_lib.freeze(config_lib.model_config("full"))) == 65


def _shortest_named(message: str) -> float:
    return float(re.search(r"at least ([0-9.]+) seconds", message).group(1))


def test_the_shortest_window_is_exact_and_the_one_its_error_names(codec):
    """A window too short for the receptive field names the shortest, which is then accepted and exact (codes
    equal the whole file's, the audio to float32 rounding); 0.1 ms less is refused with the same number."""
    with pytest.raises(ValueError, match="receptive field") as refused:
        BigCodec(codec.config, codec.params, window_seconds=0.01)
    shortest = _shortest_named(str(refused.value))
    chunked = BigCodec(codec.config, codec.params, window_seconds=shortest)
    wav = speech_like(2.6, 4)
    codes = chunked.encode(wav)
    np.testing.assert_array_equal(codes, codec.encode(wav))
    assert np.abs(chunked.decode(codes, length=len(wav)) - codec.decode(codes, length=len(wav))).max() < AUDIO_TOLERANCE
    with pytest.raises(ValueError) as refused:
        BigCodec(codec.config, codec.params, window_seconds=shortest - 1e-4)
    assert _shortest_named(str(refused.value)) == shortest
    assert shortest == codec.shortest_window_seconds() == 0.75  # 60 frames: 20 of context + 20 new + 20


def test_cli_window_at_its_shortest_is_exact(codec, tmp_path, capsys):
    """`inference.py --window` at the shortest the model takes writes the whole file's codes for an 8 kHz flac;
    below it, one usage line naming that same shortest."""
    wav = speech_like(2.6, 5)[::2]
    sf.write(tmp_path / "a.flac", wav, 8000)
    args = ["encode", str(tmp_path / "a.flac"), "--output", str(tmp_path / "out"),
            "--checkpoint", reference_path(COMMITTED_SET + ".pt"), "--batch-size", "1", "--window"]
    named = []
    for window in ("0.01", "0.7499"):
        assert main([*args, window]) == errors.USAGE
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: argument --window") and "\n" not in err
        named.append(_shortest_named(err))
    assert main([*args, f"{named[0]:g}"]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "a.codes.npz")["codes"],
                                  codec.encode(sf.read(tmp_path / "a.flac", dtype="float32")[0], sample_rate=8000)[0])
    assert named == [0.75, 0.75]
