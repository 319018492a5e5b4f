"""The paper recipe: the released full-size BigCodec on LibriSpeech 960 h (official-model.md).

Training lands with the training issue; this file already fixes the model and the recipe values.
"""
import ml_collections

from bigcodec_jax.config import model_config


def get_config() -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.model = model_config("full")
    config.seed = 1024
    config.batch_size = 8
    config.segment_samples = 16000  # 1 s crops at 16 kHz
    config.num_steps = 1_200_000
    config.lambda_mel = 15.0
    config.optimizer = ml_collections.ConfigDict(dict(b1=0.8, b2=0.9, eps=1e-8, weight_decay=0.01, clip_norm=1.0))
    config.schedule = ml_collections.ConfigDict(dict(min_lr=1e-5, peak_lr=1e-4, warmup_steps=1000,
                                                     decay_end_step=501_000))
    config.data = ml_collections.ConfigDict(dict(source="tfds:librispeech",
                                                 split="train_clean100+train_clean360+train_other500"))
    return config
