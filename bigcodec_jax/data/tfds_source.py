"""A TensorFlow Datasets dataset as an `AudioSource`, read with `tfds.data_source` (random access, no TensorFlow).

Any prepared dataset whose examples have an `Audio` feature works (LibriSpeech for the paper:
split `train_clean100+train_clean360+train_other500`); the first audio feature is used and its
declared sample rate is resampled to 16 kHz. Needs the `tfds` extra: pip install 'bigcodec-jax[tfds]'.
"""
from __future__ import annotations

import importlib.util
import os
import types

import numpy as np

from bigcodec_jax.data.decode import fit_to_segment, to_16k_mono

try:
    import tensorflow_datasets as tfds
except ImportError as e:
    raise ImportError("a 'tfds:<name>' data source needs tensorflow-datasets: "
                      "pip install 'bigcodec-jax[tfds]'") from e


class _TensorFlowStandIn:
    """What tfds's audio feature module needs from TensorFlow when only numpy data is read."""

    dtypes = types.SimpleNamespace(as_dtype=np.dtype)

    def __getattr__(self, name: str):
        raise ImportError(f"tf.{name} is needed here but TensorFlow is not installed")


def _allow_audio_features_without_tensorflow() -> None:
    """tfds 4.9 builds every Audio feature with `tf.dtypes.as_dtype`, even for numpy-only reading
    (tensorflow/datasets#11233); without TensorFlow installed, give that one module a stand-in."""
    if importlib.util.find_spec("tensorflow") is None:
        from tensorflow_datasets.core.features import audio_feature

        audio_feature.tf = _TensorFlowStandIn()


_allow_audio_features_without_tensorflow()  # at import, so worker processes unpickling a source get it too


def _prepared(name: str, data_dir: str) -> bool:
    """Whether `data_dir` holds a prepared version of the dataset `name` (`name[/config][:version]`)."""
    from etils import epath

    root = epath.Path(data_dir) / name.split(":")[0]
    return root.exists() and any(True for _ in root.glob("**/dataset_info.json"))


class TfdsSource:
    """Examples of one tfds split, by index; names come from the `id` feature when there is one."""

    def __init__(self, name: str, split: str, data_dir: str | None, key: str):
        try:  # download=False: a training or evaluation start never downloads or prepares a dataset
            self._source = tfds.data_source(name, split=split, data_dir=data_dir or None, download=False)
        except Exception as e:  # tfds raises many types for unknown, unprepared or misnamed datasets
            where = data_dir or os.environ.get("TFDS_DATA_DIR") or os.path.expanduser("~/tensorflow_datasets")
            if not _prepared(name, where):
                raise ValueError(
                    f"{key}.source='tfds:{name}': the dataset is not prepared in {where} (no "
                    f"{name.split('/')[0]}/.../dataset_info.json there); prepare it once with `tfds build "
                    f"{name.split('/')[0]} --file_format=array_record --data_dir={where}` (needs TensorFlow and "
                    f"Apache Beam), or use data.source=dir with data.path at the extracted audio files") from None
            raise ValueError(f"{key}.source='tfds:{name}', {key}.split={split!r}, tfds_data_dir={data_dir!r}: "
                             f"cannot open the dataset ({type(e).__name__}: {e})") from e
        features = self._source.dataset_info.features
        audio = [k for k in features.keys() if isinstance(features[k], tfds.features.Audio)]
        if not audio:
            raise ValueError(f"{key}.source='tfds:{name}': the dataset has no audio feature (features: {list(features.keys())})")
        self._audio_key, self._has_id = audio[0], "id" in features.keys()
        self._rate = features[self._audio_key].sample_rate
        if not self._rate:
            raise ValueError(f"{key}.source='tfds:{name}': audio feature {self._audio_key!r} declares no sample rate")
        self._label = f"{name}/{split}"

    def __len__(self) -> int:
        return len(self._source)

    def name(self, index: int) -> str:
        if self._has_id:
            ident = self._source[index]["id"]
            return ident.decode() if isinstance(ident, bytes) else str(ident)
        return f"{self._label}/{index}"

    def read(self, index: int) -> np.ndarray:
        try:
            samples = self._source[index][self._audio_key]
        except Exception as e:  # a damaged record: the loader skips it like an unreadable file
            raise ValueError(f"cannot read record {index} of {self._label} ({type(e).__name__}: {e})") from None
        return to_16k_mono(samples, self._rate)

    def read_crop(self, index: int, segment: int, rng: np.random.Generator) -> np.ndarray:
        return fit_to_segment(self.read(index), segment, rng)
