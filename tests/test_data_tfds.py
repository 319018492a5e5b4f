"""The tfds source through `tfds.data_source`, on tfds's mock LibriSpeech (no download, no TensorFlow)."""
import numpy as np
import pytest
import tensorflow_datasets as tfds

from bigcodec_jax import data
from bigcodec_jax.data import tfds_source  # noqa: F401  (lets tfds build Audio features without TensorFlow)

PAPER_SPLIT = "train_clean100+train_clean360+train_other500"


@pytest.fixture
def mock_librispeech():
    with tfds.testing.mock_data(num_examples=6, policy=tfds.testing.MockPolicy.USE_CODE):
        yield


def scaled_examples(split):
    source = tfds.data_source("librispeech", split=split)
    return {ex["id"]: ex["speech"] / 32768.0 for ex in (source[i] for i in range(len(source)))}


def tfds_config():
    cfg = data.default_config()
    cfg.source, cfg.split = "tfds:librispeech", PAPER_SPLIT
    cfg.eval.source, cfg.eval.split, cfg.eval.batch_size = "tfds:librispeech", "test_clean", 2
    return cfg


def test_training_crops_from_librispeech(mock_librispeech):
    examples = scaled_examples(PAPER_SPLIT)
    batch = next(iter(data.train_loader(tfds_config(), 4, seed=0, process_index=0, process_count=1)))["wav"]
    assert batch.shape == (4, 16000) and batch.dtype == np.float32
    for row in batch:  # mock utterances are shorter than a crop: whole, scaled int16, then zeros
        matches = [wav for wav in examples.values() if np.allclose(row[:len(wav)], wav, atol=1e-7)]
        assert matches and np.all(row[len(matches[0]):] == 0)


def test_eval_utterances_from_librispeech(mock_librispeech):
    examples = scaled_examples("test_clean")
    batches = data.eval_utterances(tfds_config())
    names = [name for b in batches for name in b.names]
    assert sorted(names) == sorted(examples)
    lengths = np.concatenate([b.lengths for b in batches])
    assert list(lengths) == sorted(lengths)
    for b in batches:
        for name, wav, length in zip(b.names, b.wav, b.lengths):
            assert b.wav.dtype == np.float32
            np.testing.assert_allclose(wav[:length], examples[name], atol=1e-7)
            assert np.all(wav[length:] == 0)


def test_unknown_tfds_dataset_names_the_key(tmp_path):
    cfg = data.default_config()
    cfg.source, cfg.tfds_data_dir = "tfds:no_such_dataset_here", str(tmp_path)
    with pytest.raises(ValueError, match="data.source='tfds:no_such_dataset_here'"):
        data.train_loader(cfg, 2, seed=0, process_index=0, process_count=1)


def test_an_unprepared_dataset_is_named_with_the_command_that_prepares_it(tmp_path):
    """A training start must never download and prepare LibriSpeech (60 GB, Beam, TensorFlow) by itself."""
    cfg = tfds_config()
    cfg.tfds_data_dir = str(tmp_path)
    with pytest.raises(ValueError, match=r"not prepared in .*tfds build librispeech --file_format=array_record"):
        data.train_loader(cfg, 2, seed=0, process_index=0, process_count=1)
    assert not any(tmp_path.iterdir()), "something was downloaded or prepared"
