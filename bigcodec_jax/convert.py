"""`python -m bigcodec_jax.convert` / `convert_torch_ckpt.py`: checkpoints -> a converted Orbax directory, or
-> the official released `.pt` layout (`--to-torch`).

Any checkpoint `BigCodec.from_pretrained` reads is an input: an official `.pt` / Lightning `.ckpt`, a converted
directory, or a `train.py` run directory (its latest checkpoint, or `--step`).
"""
from __future__ import annotations

import argparse
import os
import sys

import jax
import numpy as np

from bigcodec_jax.checkpoints import official, pretrained, store, torch_zip
from bigcodec_jax.checkpoints.torch_zip import CheckpointError


def to_orbax(src: str | os.PathLike, dst: str | os.PathLike, step: int | None = None) -> dict[str, int]:
    """Write a converted directory from any checkpoint; returns parameter counts per part."""
    config, params = pretrained.load(src, step)
    store.save(dst, config, params)
    return {part: sum(int(np.size(x)) for x in jax.tree.leaves(tree)) for part, tree in params.items()}


def to_torch(src: str | os.PathLike, dst: str | os.PathLike, step: int | None = None) -> None:
    """Export any checkpoint to the official released `.pt` layout (discriminators included when present, and
    the model config, which the official loader ignores)."""
    config, params = pretrained.load(src, step)
    torch_zip.save(official.to_checkpoint(params, config), dst)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="convert_torch_ckpt.py",
        description="Convert a BigCodec checkpoint (official released .pt, Lightning .ckpt, or a train.py run "
                    "directory) into a directory holding an Orbax checkpoint of the Flax parameters and the model "
                    "config (config.json), or with --to-torch export it to the official released .pt layout, "
                    "which the official PyTorch code loads. The config is inferred from the tensor shapes; "
                    "discriminators are converted when present.")
    parser.add_argument("input", help="official .pt/.ckpt file, converted directory or train.py run directory")
    parser.add_argument("output", help="output directory (or, with --to-torch, the .pt file to write)")
    parser.add_argument("--to-torch", action="store_true", help="export to the official released .pt layout")
    parser.add_argument("--step", type=int, default=None,
                        help="with a train.py run directory: the checkpoint of this step (default: the latest)")
    args = parser.parse_args(argv)
    try:
        if args.to_torch:
            to_torch(args.input, args.output, args.step)
            print(f"wrote {args.output}")
        else:
            counts = to_orbax(args.input, args.output, args.step)
            summary = ", ".join(f"{part}: {n:,} parameters" for part, n in counts.items())
            print(f"wrote {args.output} ({summary})")
    except CheckpointError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
