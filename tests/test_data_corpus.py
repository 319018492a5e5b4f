"""The packaged speech corpus: present, 16 kHz FLAC, small, split; the default config trains and evaluates on it."""
import os
import shutil

import numpy as np
import pytest
import soundfile as sf

from bigcodec_jax import data
from bigcodec_jax.data import make_corpus
from bigcodec_jax.data.corpus import HELDOUT_LIST, TRAIN_LIST


def listed(list_name):
    with open(os.path.join(data.corpus_dir(), list_name)) as f:
        return [line.rstrip("\n").split("|") for line in f if line.strip()]


def test_corpus_files_are_16k_mono_flac_and_small():
    entries = listed(TRAIN_LIST) + listed(HELDOUT_LIST)
    assert len(listed(TRAIN_LIST)) >= 30 and len(listed(HELDOUT_LIST)) >= 5
    total_bytes = seconds = 0
    for path, _text in entries:
        info = sf.info(os.path.join(data.corpus_dir(), path))
        assert (info.samplerate, info.channels, info.format) == (16000, 1, "FLAC"), path
        total_bytes += os.path.getsize(os.path.join(data.corpus_dir(), path))
        seconds += info.duration
    assert total_bytes < 3.2e6 and seconds > 120
    voices = {os.path.basename(path).split("_s")[0].split("_", 1)[1] for path, _ in entries}
    assert len(voices) == len(make_corpus.VOICES)


def test_heldout_sentences_are_not_in_training():
    train, heldout = {text for _, text in listed(TRAIN_LIST)}, {text for _, text in listed(HELDOUT_LIST)}
    assert not train & heldout


def test_default_config_trains_and_evaluates_on_the_corpus():
    cfg = data.default_config()
    batch = next(iter(data.train_loader(cfg, 8, seed=1024, process_index=0, process_count=1)))["wav"]
    assert batch.shape == (8, 16000) and batch.dtype == np.float32 and np.abs(batch).max() > 0.1
    batches = data.eval_utterances(cfg)
    names = [name for b in batches for name in b.names]
    assert sorted(names) == sorted(os.path.basename(path) for path, _ in listed(HELDOUT_LIST))
    for b in batches:
        assert b.wav.shape == (len(b.names), b.lengths.max())
        for wav, length in zip(b.wav, b.lengths):
            assert np.abs(wav[:length]).max() > 0.1 and np.all(wav[length:] == 0)


def test_make_corpus_names_the_missing_package(monkeypatch, tmp_path):
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    with pytest.raises(SystemExit, match="espeak-ng"):
        make_corpus.main(["--output", str(tmp_path)])
