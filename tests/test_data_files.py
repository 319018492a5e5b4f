"""Audio-file sources: rates, channels and sample formats, bad files, config errors."""
import logging

import numpy as np
import pytest
import soundfile as sf

from bigcodec_jax import data
from bigcodec_jax.data.decode import read_file_crop
from bigcodec_jax.data.sources import folder_source, list_source

SEGMENT = 4000

# name -> (rate, seconds, frequency, per-channel amplitudes, soundfile subtype): one tone per file, so a
# crop tells which file it came from; after averaging the channels the amplitude is their mean
GOOD = {
    "a_8k_int16.wav": (8000, 1.0, 300, (0.5,), "PCM_16"),
    "b_22k_stereo.flac": (22050, 0.8, 500, (0.6, 0.2), "PCM_16"),
    "c_44k_float_stereo.wav": (44100, 0.7, 700, (0.3, 0.5), "FLOAT"),
    "d_16k_int24.flac": (16000, 1.2, 900, (0.7,), "PCM_24"),
    "f_16k_short.wav": (16000, 0.3, 1100, (0.4,), "PCM_16"),
    "sub/e_44k.flac": (44100, 0.6, 1300, (0.45,), "PCM_16"),
}
# sorted between good files, so each bad file is replaced by a good one with exactly one skip
BAD = ("b0_corrupt.flac", "d0_empty.wav", "f0_text.wav")


def tone(rate, seconds, frequency, amplitudes):
    t = np.arange(int(rate * seconds)) / rate
    return np.stack([a * np.sin(2 * np.pi * frequency * t) for a in amplitudes], axis=1)


def write_bad_files(folder):
    sf.write(folder / "valid.flac", tone(16000, 1.0, 440, (0.5,)), 16000)
    valid = (folder / "valid.flac").read_bytes()
    (folder / "valid.flac").unlink()
    (folder / BAD[0]).write_bytes(valid[:200] + bytes(np.random.default_rng(0).integers(0, 256, 4000, np.uint8)))
    (folder / BAD[1]).write_bytes(b"")
    (folder / BAD[2]).write_text("this is a text file, not audio\n" * 20)


@pytest.fixture(scope="module")
def mixed_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mixed")
    (folder / "sub").mkdir()
    for name, (rate, seconds, frequency, amplitudes, subtype) in GOOD.items():
        sf.write(folder / name, tone(rate, seconds, frequency, amplitudes), rate, subtype=subtype)
    write_bad_files(folder)
    return folder


def dominant_frequency(wav):
    spectrum = np.abs(np.fft.rfft(wav * np.hanning(len(wav))))
    return np.argmax(spectrum) * 16000 / len(wav)


def folder_config(path, **changes):
    cfg = data.default_config()
    cfg.source, cfg.path, cfg.segment_samples = "dir", str(path), SEGMENT
    cfg.update(changes)
    return cfg


def test_good_files_read_as_16k_mono_float(mixed_folder):
    source = folder_source(str(mixed_folder), "data.path")
    assert len(source) == len(GOOD) + len(BAD)
    for name, (rate, seconds, frequency, amplitudes, _) in GOOD.items():
        wav = source.read(source.names.index(name))
        assert wav.dtype == np.float32 and wav.ndim == 1
        assert abs(len(wav) - seconds * 16000) <= 1, name
        assert abs(dominant_frequency(wav) - frequency) < 5, name
        assert np.max(np.abs(wav[200:-200])) == pytest.approx(np.mean(amplitudes), rel=0.02), name


def test_bad_files_raise_value_error(mixed_folder):
    source = folder_source(str(mixed_folder), "data.path")
    for name in BAD:
        with pytest.raises(ValueError):
            source.read_crop(source.names.index(name), SEGMENT, np.random.default_rng(0))


def test_truncated_flac_is_refused_where_the_crop_reaches_the_cut(tmp_path):
    sf.write(tmp_path / "whole.flac", tone(16000, 2.0, 440, (0.5,)), 16000)
    (tmp_path / "cut.flac").write_bytes((tmp_path / "whole.flac").read_bytes()[:15000])
    with pytest.raises(ValueError):
        read_file_crop(str(tmp_path / "cut.flac"), 32000, np.random.default_rng(0))


def test_short_utterances_are_zero_padded_at_the_end(mixed_folder):
    source = folder_source(str(mixed_folder), "data.path")
    crop = source.read_crop(source.names.index("f_16k_short.wav"), 16000, np.random.default_rng(0))
    assert crop.shape == (16000,)
    assert np.all(crop[4800:] == 0) and np.abs(crop[:4800]).max() > 0.3


def test_loader_skips_and_counts_bad_files(mixed_folder, caplog):
    n = len(GOOD) + len(BAD)
    it = iter(data.train_loader(folder_config(mixed_folder, max_bad_fraction=0.5), 3, seed=0,
                                process_index=0, process_count=1))
    with caplog.at_level(logging.WARNING, logger="bigcodec_jax.data"):
        rows = np.concatenate([next(it)["wav"] for _ in range(n // 3)])  # exactly one epoch of positions
    assert rows.shape == (n, SEGMENT) and rows.dtype == np.float32
    found = {round((dominant_frequency(row) - 100) / 200) * 200 + 100 for row in rows}
    assert found == {spec[2] for spec in GOOD.values()}
    assert data.bad_example_count(it) == len(BAD)
    assert it.tally.read == n + len(BAD)
    for name in BAD:
        assert name in caplog.text


def test_too_many_bad_files_stop_the_run(tmp_path):
    for i in range(2):
        sf.write(tmp_path / f"good{i}.wav", tone(16000, 1.0, 440, (0.5,)), 16000)
    write_bad_files(tmp_path)
    it = iter(data.train_loader(folder_config(tmp_path, max_bad_fraction=0.1), 2, seed=0,
                                process_index=0, process_count=1))
    with pytest.raises(data.TooManyBadExamples, match="data.max_bad_fraction"):
        for _ in range(10):
            next(it)


def test_folder_without_audio_is_refused_naming_it(tmp_path):
    (tmp_path / "notes.txt").write_text("no audio here")
    with pytest.raises(ValueError, match=str(tmp_path)):
        data.train_loader(folder_config(tmp_path), 2, seed=0, process_index=0, process_count=1)


def test_file_list_with_official_format_and_relative_paths(mixed_folder, tmp_path):
    lines = [f"{mixed_folder / 'a_8k_int16.wav'}|some text", "d_16k_int24.flac|more text", ""]
    listing = mixed_folder / "files.txt"
    listing.write_text("\n".join(lines))
    source = list_source(str(listing), "data.path")
    assert source.names == ["a_8k_int16.wav", "d_16k_int24.flac"]
    assert abs(dominant_frequency(source.read(1)) - 900) < 5
    listing.unlink()


def test_file_list_paths_are_relative_to_the_list_and_comments_are_skipped(tmp_path, monkeypatch):
    for folder, frequency in (("lists/wavs", 300), ("cwd/wavs", 900)):  # the same relative path from the cwd
        (tmp_path / folder).mkdir(parents=True)
        sf.write(tmp_path / folder / "x.wav", tone(16000, 0.5, frequency, (0.5,)), 16000)
    listing = tmp_path / "lists" / "files.txt"
    listing.write_text("# train split\n\nwavs/x.wav|text\n   # wavs/commented.wav\nwavs/missing.wav\n")
    monkeypatch.chdir(tmp_path / "cwd")
    source = list_source(str(listing), "data.path")
    assert source.paths == [str(tmp_path / "lists" / "wavs" / "x.wav"), str(tmp_path / "lists" / "wavs" / "missing.wav")]
    assert abs(dominant_frequency(source.read(0)) - 300) < 5
    with pytest.raises(ValueError, match="^no such file$"):
        source.read(1)


@pytest.mark.parametrize("changes, key", [
    (dict(source="webdataset"), "data.source"),
    (dict(source="dir", path="/no/such/folder"), "data.path"),
    (dict(source="list", path="/no/such/list.txt"), "data.path"),
    (dict(segment_samples=0), "data.segment_samples"),
    (dict(workers=-1), "data.workers"),
])
def test_config_mistakes_name_the_key(changes, key):
    cfg = data.default_config()
    cfg.update(changes)
    with pytest.raises(ValueError, match=key):
        data.train_loader(cfg, 2, seed=0, process_index=0, process_count=1)


def test_batch_must_divide_among_processes():
    with pytest.raises(ValueError, match="global_batch_size"):
        data.train_loader(data.default_config(), 3, seed=0, process_index=0, process_count=2)


def test_eval_source_mistake_names_the_eval_key():
    cfg = data.default_config()
    cfg.eval.source = "dir"
    with pytest.raises(ValueError, match="data.eval.path"):
        data.eval_utterances(cfg)
