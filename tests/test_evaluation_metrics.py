"""Evaluation metrics on real (synthesized) speech from the packaged corpus: known values and missing reasons."""
import os

import numpy as np
import pytest

from bigcodec_jax import data
from bigcodec_jax.data.decode import read_file
from bigcodec_jax.evaluation import code_statistics, metrics

SPEECH = "heldout/006_en-gb-x-rp_m5_s171_p72.flac"  # 4.7 s, male voice


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return read_file(os.path.join(data.corpus_dir(), SPEECH))


@pytest.fixture(scope="module")
def white_noise(speech) -> np.ndarray:
    return (0.05 * np.random.default_rng(0).standard_normal(len(speech))).astype(np.float32)


def measure_all(reference, reconstruction):
    return metrics.measure(reference, reconstruction, metrics.ALL_METRICS)


def test_identical_speech_scores_best(speech):
    values, missing = measure_all(speech, speech.copy())
    assert missing == {}
    assert values["pesq_wb"] == pytest.approx(4.644, abs=0.001)  # P.862.2's maximum
    assert values["pesq_nb"] == pytest.approx(4.549, abs=0.001)  # P.862.1's maximum
    assert values["stoi"] == pytest.approx(1.0, abs=1e-9)
    assert values["si_sdr"] > 200
    assert values["mel_distance"] == pytest.approx(0.0, abs=1e-6)
    assert values["mcd"] == 0.0


def test_si_sdr_ignores_the_reconstruction_scale(speech, white_noise):
    noisy = speech + 0.1 * white_noise
    reference_value = metrics.si_sdr(speech, noisy)
    assert 10 < reference_value < 20  # ~15 dB of added noise
    for gain in (0.25, 3.0, -1.0):
        assert metrics.si_sdr(speech, gain * noisy) == pytest.approx(reference_value, abs=1e-6)
    assert metrics.si_sdr(speech, 0.5 * speech) > 200


def test_white_noise_against_speech_scores_low(speech, white_noise):
    values, missing = measure_all(speech, white_noise)
    assert missing == {}
    assert values["pesq_wb"] < 1.2 and values["pesq_nb"] < 1.2
    assert values["stoi"] < 0.5
    assert values["si_sdr"] < -30
    assert values["mel_distance"] > 5
    assert values["mcd"] > 5


def test_a_10_ms_delayed_copy(speech):
    """PESQ aligns the signals, so it keeps its maximum; STOI compares 25 ms frames and drops a little;
    SI-SDR compares samples, so a delay of more than a pitch period destroys it."""
    delayed = np.concatenate([np.zeros(160, np.float32), speech[:-160]])
    values, missing = measure_all(speech, delayed)
    assert missing == {}
    assert values["pesq_wb"] == pytest.approx(4.644, abs=0.01)
    assert 0.8 < values["stoi"] < 0.95
    assert values["si_sdr"] < 0
    assert 0.5 < values["mcd"] < 5


def test_mel_distance_is_the_training_loss(speech, white_noise):
    import jax

    from bigcodec_jax.nn.spectral import mel_distance, mel_distance_config

    noisy = speech + 0.1 * white_noise
    want = float(jax.jit(lambda recon, target: mel_distance(recon, target, mel_distance_config()))(noisy[None], speech[None]))
    assert metrics.mel_distance(speech, noisy) == pytest.approx(want, rel=1e-5)
    assert 0 < metrics.mel_distance(speech, noisy) < metrics.mel_distance(speech, white_noise)


def test_a_very_short_utterance_misses_pesq_and_stoi_with_reasons(speech):
    short = speech[8000:9600]  # 0.1 s
    values, missing = measure_all(short, short.copy())
    assert set(missing) == {"pesq_wb", "pesq_nb", "stoi"}
    assert "0.25 s" in missing["pesq_wb"] and "0.25 s" in missing["pesq_nb"]
    assert "too little speech" in missing["stoi"]
    assert values["si_sdr"] > 200 and values["mcd"] == 0.0


@pytest.mark.parametrize("samples", [1, 200, 409, 410, 6553])
def test_stoi_of_a_clip_too_short_for_its_frames_is_missing_with_the_reason(speech, samples):
    """Under 410 samples pystoi itself raises (issue 28); up to 6553 it has fewer than its 30 frames."""
    clip = speech[8000:8000 + samples]
    values, missing = metrics.measure(clip, clip.copy(), ["stoi", "mel_distance"])
    assert missing == {"stoi": "too little speech for STOI: shorter than the 0.41 s its 30 frames need"}
    assert set(values) == {"mel_distance"}
    longer = speech[8000:8000 + 6554]  # just long enough: a value
    assert metrics.stoi(longer, longer.copy()) == pytest.approx(1.0, abs=1e-6)


def test_silence_misses_the_metrics_that_need_sound(speech):
    silence = np.zeros(16000, np.float32)
    values, missing = measure_all(silence, silence + 0.01)
    assert set(missing) == {"pesq_wb", "pesq_nb", "stoi", "si_sdr"}
    assert all("reference is silent" in reason for reason in missing.values())
    assert set(values) == {"mel_distance", "mcd"} and values["mel_distance"] > 0
    values, missing = measure_all(speech, np.zeros_like(speech))
    assert "reconstruction is silent" in missing["si_sdr"] and "reconstruction is silent" in missing["pesq_wb"]
    assert values["stoi"] == pytest.approx(0.0, abs=1e-6)


def test_unknown_metric_names_are_refused():
    with pytest.raises(ValueError, match="pesq"):
        metrics.check_names(["pesq"])


def test_code_statistics():
    counter = code_statistics.CodeCounter(num_quantizers=1, codebook_size=8, hop_length=200)
    counter.add(np.array([[0, 1, 2, 3]]))
    counter.add(np.array([[0, 1, 2, 3, 0, 1, 2, 3]]))
    stats = counter.statistics()
    assert stats.usage == 0.5  # 4 of 8 entries
    assert stats.perplexity == pytest.approx(4.0)  # used uniformly
    assert stats.frames == 12
    assert stats.bitrate == 3 * 80  # log2(8) bits x 80 frames/s
    assert code_statistics.bitrate(8192, 1, 200) == 1040  # the released codec's 1.04 kbit/s


def test_direction_of_every_metric(speech, white_noise):
    """`improved` ranks the identical copy above white noise for every metric, as the definitions say."""
    best, _ = measure_all(speech, speech.copy())
    worst, _ = measure_all(speech, white_noise)
    for name in metrics.ALL_METRICS:
        said = "lower is better" if name in metrics.LOWER_IS_BETTER else "higher is better"
        assert said in metrics.definition(name)
        assert metrics.improved(name, worst[name], best[name]) and not metrics.improved(name, best[name], worst[name])
