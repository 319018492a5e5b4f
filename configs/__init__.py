"""The training configs, one file per run: `train.py --config configs/<name>.py` (or `bigcodec train`).

base.py writes out every field (the paper recipe); the others start from it and set what they change.
The package is also `bigcodec_jax.configs` (bigcodec_jax/configs is a link to this folder, so an install
ships these files): the demo trains configs/small.py, and the configs import each other by that name.
"""
