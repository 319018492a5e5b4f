"""`python -m bigcodec_jax.convert` / `convert_torch_ckpt.py`: official .pt <-> converted Orbax directory."""
from __future__ import annotations

import argparse
import os
import sys

import jax
import numpy as np

from bigcodec_jax.checkpoints import convert, store, torch_zip
from bigcodec_jax.checkpoints.torch_zip import CheckpointError


def torch_to_orbax(src: str | os.PathLike, dst: str | os.PathLike) -> dict[str, int]:
    """Convert an official checkpoint file to a converted directory; returns parameter counts per part."""
    config, params = convert.torch_to_flax(convert.read_sections(src))
    store.save(dst, config, params)
    return {part: sum(int(np.size(x)) for x in jax.tree.leaves(tree)) for part, tree in params.items()}


def orbax_to_torch(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """Export a converted directory to the official released `.pt` layout."""
    config, params = store.load(src)
    torch_zip.save(convert.flax_to_torch(params, config), dst)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="convert_torch_ckpt.py",
        description="Convert an official BigCodec checkpoint (released .pt or Lightning .ckpt) into a directory "
                    "holding an Orbax checkpoint of the Flax parameters and the model config (config.json). "
                    "The config is inferred from the tensor shapes; discriminators are converted when present.")
    parser.add_argument("input", help="official .pt/.ckpt file (or, with --to-torch, a converted directory)")
    parser.add_argument("output", help="output directory (or, with --to-torch, the .pt file to write)")
    parser.add_argument("--to-torch", action="store_true",
                        help="export a converted directory back to the official released .pt layout")
    args = parser.parse_args(argv)
    try:
        if args.to_torch:
            orbax_to_torch(args.input, args.output)
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
