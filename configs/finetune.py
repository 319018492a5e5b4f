"""Fine-tune the released BigCodec on your own speech:

    python train.py --config configs/finetune.py --workdir runs/finetune \
        --config.init_from=bigcodec.pt --config.data.source=dir --config.data.path=/data/my_speech \
        --config.data.eval.source=dir --config.data.eval.path=/data/my_speech_heldout

`init_from` is the official `.pt`, a Lightning `.ckpt` or a converted directory (its model config replaces
config.model); a released `.pt` holds only the generator, so the discriminators start fresh. The
recipe's AdamW and losses are kept; the learning rate is a constant 1e-5 (the paper's final rate) with
no warm-up, for 20k steps. Without `data.eval.*` the held-out metrics (`eval/...` in TensorBoard every
1000 steps) are measured on the packaged corpus's held-out part.
"""
import ml_collections

from bigcodec_jax.configs import base


def get_config() -> ml_collections.ConfigDict:
    config = base.get_config()  # the released model, the recipe's AdamW and losses
    config.init_from = "bigcodec.pt"  # or --config.init_from=path/to/bigcodec.pt, a .ckpt or a converted directory
    config.num_steps = 20_000
    config.schedule.initial_lr = config.schedule.peak_lr = config.schedule.final_lr  # the recipe's 1e-5
    config.schedule.warmup_steps = 0
    config.schedule.decay_steps = 0
    config.data.source, config.data.split = "dir", "train"  # --config.data.path=/data/my_speech
    config.data.eval.source, config.data.eval.split = "corpus", "test"  # the packaged corpus's held-out part
    config.log_every_steps = 50
    config.examples_every_steps = 1000
    config.eval_every_steps = 1000
    config.checkpoint.every_steps = 1000
    return config
