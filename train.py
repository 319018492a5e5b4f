"""GAN training of BigCodec: `python train.py --config configs/base.py --workdir DIR`.

Not built yet: the training step, optimisers, data pipeline and checkpointing are the subject of
the training and data issues. This script says so instead of pretending to train.
"""
import sys

if __name__ == "__main__":
    print("train.py: training is not implemented yet in this version of bigcodec-jax; the codec, the "
          "checkpoint converter and inference.py are ready (see README.md).", file=sys.stderr)
    sys.exit(2)
