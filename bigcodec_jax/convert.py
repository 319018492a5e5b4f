"""`bigcodec convert` / `python -m bigcodec_jax.convert` / `convert_torch_ckpt.py`: between checkpoint formats.

Any source `BigCodec.from_pretrained` reads is an input: an official `.pt` / Lightning `.ckpt`, a
`.safetensors` file, a converted directory, a `train.py` run directory (its latest checkpoint, or `--step`)
or a model-hub id.
"""
from __future__ import annotations

import argparse
import os
import sys

import jax
import numpy as np

from bigcodec_jax import config as config_lib
from bigcodec_jax.checkpoints import official, pretrained, safetensors_format, store, torch_zip
from bigcodec_jax.checkpoints.torch_zip import CheckpointError


def to_orbax(src: str | os.PathLike, dst: str | os.PathLike, step: int | None = None) -> dict[str, int]:
    """Write a converted directory from any checkpoint; returns parameter counts per part."""
    config, params = pretrained.load(src, step=step)
    store.save(dst, config, params)
    return {part: sum(int(np.size(x)) for x in jax.tree.leaves(tree)) for part, tree in params.items()}


def to_torch(src: str | os.PathLike, dst: str | os.PathLike, step: int | None = None) -> None:
    """Export any checkpoint to the official released `.pt` layout (discriminators included when present, and
    the model config, which the official loader ignores)."""
    config, params = pretrained.load(src, step=step)
    torch_zip.save(official.to_checkpoint(params, config), dst)


def to_safetensors(src: str | os.PathLike, dst: str | os.PathLike, step: int | None = None) -> None:
    """Write any checkpoint as a `.safetensors` file with the official tensor names
    (`checkpoints/safetensors_format.py`), the model config in its metadata."""
    config, params = pretrained.load(src, step=step)
    safetensors_format.save(official.flax_to_torch(params, config), dst, config_lib.to_json(config))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="convert_torch_ckpt.py",
        description="Convert a BigCodec checkpoint between formats. The input is anything BigCodec.from_pretrained "
                    "reads: an official .pt, a Lightning .ckpt, a .safetensors file with the official tensor names, "
                    "a converted directory, a train.py run directory (latest step, or --step), or a model-hub id "
                    "owner/name[@revision] (file bigcodec.pt, needs 'bigcodec-jax[hub]'). By default it writes a "
                    "directory holding an Orbax checkpoint of the Flax parameters and the model config "
                    "(config.json). The config is inferred from the tensor shapes unless the file carries it; "
                    "discriminators are converted when present.")
    parser.add_argument("input", help="checkpoint file, converted directory, train.py run directory or hub id")
    parser.add_argument("output", help="output directory (with --to-torch or --to-safetensors: the file to write)")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--to-torch", action="store_true",
                        help="write the official released .pt layout (the official PyTorch code loads it)")
    target.add_argument("--to-safetensors", action="store_true",
                        help="write a .safetensors file: the official tensor names (CodecEnc.*, generator.*, "
                             "discriminator.*, spec_discriminator.*), float32, no pickle")
    parser.add_argument("--step", type=int, default=None,
                        help="with a train.py run directory: the checkpoint of this step (default: the latest)")
    args = parser.parse_args(argv)
    try:
        if args.to_torch or args.to_safetensors:
            (to_torch if args.to_torch else to_safetensors)(args.input, args.output, args.step)
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
