"""`bigcodec convert` / `python -m bigcodec_jax.convert` / `convert_torch_ckpt.py`: between checkpoint formats."""
from __future__ import annotations

import argparse
import os
import sys

import jax
import numpy as np

from bigcodec_jax.checkpoints import convert, pretrained, safetensors_format, store, torch_zip
from bigcodec_jax.checkpoints.torch_zip import CheckpointError


def torch_to_orbax(src: str | os.PathLike, dst: str | os.PathLike) -> dict[str, int]:
    """Convert a checkpoint (any source `pretrained.load` reads) to a converted directory; returns parameter
    counts per part."""
    config, params = pretrained.load(src)
    store.save(dst, config, params)
    return {part: sum(int(np.size(x)) for x in jax.tree.leaves(tree)) for part, tree in params.items()}


def orbax_to_torch(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """Export a checkpoint (a converted directory, or any source `pretrained.load` reads) to the official
    released `.pt` layout."""
    config, params = pretrained.load(src)
    torch_zip.save(convert.flax_to_torch(params, config), dst)


def to_safetensors(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """Write a checkpoint (any source `pretrained.load` reads) as a `.safetensors` file with the official tensor
    names (`checkpoints/safetensors_format.py`)."""
    config, params = pretrained.load(src)
    safetensors_format.save(convert.flax_to_torch(params, config), dst)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="convert_torch_ckpt.py",
        description="Convert a BigCodec checkpoint between formats. The input is anything BigCodec.from_pretrained "
                    "reads: an official .pt, a Lightning .ckpt, a .safetensors file with the official tensor names, "
                    "a converted directory, or a model-hub id owner/name[@revision] (file bigcodec.pt, needs "
                    "'bigcodec-jax[hub]'). By default it writes a directory holding an Orbax checkpoint of the Flax "
                    "parameters and the model config (config.json). The config is inferred from the tensor shapes; "
                    "discriminators are converted when present.")
    parser.add_argument("input", help="checkpoint file, converted directory or hub id")
    parser.add_argument("output", help="output directory (with --to-torch or --to-safetensors: the file to write)")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--to-torch", action="store_true",
                        help="write the official released .pt layout (torch.load reads it)")
    target.add_argument("--to-safetensors", action="store_true",
                        help="write a .safetensors file: the official tensor names (CodecEnc.*, generator.*, "
                             "discriminator.*, spec_discriminator.*), float32, no pickle")
    args = parser.parse_args(argv)
    try:
        if args.to_torch:
            orbax_to_torch(args.input, args.output)
            print(f"wrote {args.output}")
        elif args.to_safetensors:
            to_safetensors(args.input, args.output)
            print(f"wrote {args.output}")
        else:
            counts = torch_to_orbax(args.input, args.output)
            summary = ", ".join(f"{part}: {n:,} parameters" for part, n in counts.items())
            print(f"wrote {args.output} ({summary})")
    except CheckpointError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
