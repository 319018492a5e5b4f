"""The paper recipe: the released full-size BigCodec on LibriSpeech 960 h (official-model.md).

Batch 8 x 1 s crops, 1.2 M steps, AdamW (0.8, 0.9), warm-up to 1e-4 over 1000 updates then linear
decay to 1e-5. Prepare LibriSpeech with tfds first (or point data.source at a folder/file list).
"""
from bigcodec_jax.training.config import recipe


def get_config():
    config = recipe("full")
    config.data.source = "tfds:librispeech"
    config.data.split = "train_clean100+train_clean360+train_other500"
    config.data.eval.source = "tfds:librispeech"
    config.data.eval.split = "test_clean"
    return config
