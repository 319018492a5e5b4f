"""Where the packaged speech corpus lives (made by `python -m bigcodec_jax.data.make_corpus`)."""
from __future__ import annotations

import os

DEFAULT_CORPUS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
TRAIN_LIST = "train.txt"
HELDOUT_LIST = "heldout.txt"


def corpus_dir() -> str:
    """The folder of the small synthetic corpus shipped with the package (train.txt, heldout.txt, FLACs)."""
    return DEFAULT_CORPUS_DIR
