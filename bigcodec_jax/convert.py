"""`bigcodec convert` / `python -m bigcodec_jax.convert` / `convert_torch_ckpt.py`: between checkpoint formats.

Any source `BigCodec.from_pretrained` reads is an input: an official `.pt` / Lightning `.ckpt`, a
`.safetensors` file, a converted directory, a `train.py` run directory (its latest checkpoint, or `--step`)
or a model-hub id. Nothing is ever deleted that the conversion did not write: an existing output is replaced
only with `--overwrite` (and only a converted checkpoint, or a file for `--to-torch` / `--to-safetensors`),
never the input itself.
"""
from __future__ import annotations

import os
import sys

import jax
import numpy as np

from bigcodec_jax.codec import config as config_lib
from bigcodec_jax import errors
from bigcodec_jax.checkpoints import official, pretrained, safetensors_format, store, torch_zip
from bigcodec_jax.io import paths


def to_orbax(src: str | os.PathLike, dst: str | os.PathLike, step: int | None = None,
             overwrite: bool = False) -> dict[str, int]:
    """Write a converted directory from any checkpoint; returns parameter counts per part."""
    config, params = pretrained.load(src, step=step)
    store.save(dst, config, params, overwrite)
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


def check_paths(src: str, dst: str, to_file: bool, overwrite: bool) -> None:
    """UsageError, before anything is read, for an input that does not exist, an output that is the input, lies
    inside it, cannot be written, or exists (without `overwrite`)."""
    pretrained.check_source(src, "the input")
    real_src, real_dst = paths.resolve(src), paths.resolve(dst)
    errors.require(real_src != real_dst, f"the output {dst} is the input {src}; choose another output")
    errors.require(not (paths.isdir(real_src) and paths.is_inside(real_dst, real_src)),
                   f"the output {dst} lies inside the input folder {src}; choose another output")
    replaced = [paths.join(real_dst, name) for name in (store.PARAMS_DIR, store.CONFIG_FILE)]
    errors.require(to_file or not any(paths.is_inside(real_src, path) for path in replaced),
                   f"the output {dst} would replace the input {src}; choose another output")
    if to_file:
        errors.require(not paths.isdir(dst), f"the output {dst} is a folder; --to-torch and --to-safetensors "
                                             "write a file")
        errors.require(overwrite or not paths.occupied(dst), f"the output {dst} exists; pass --overwrite to replace it")
        folder = paths.parent(paths.absolute(dst))
        errors.require(not paths.isfile(folder), f"{folder} is a file, not a folder")
        return
    try:
        store.check_destination(dst, overwrite)
    except OSError as e:
        raise errors.UsageError(str(e)) from None


@errors.command()
def main(argv: list[str] | None = None) -> int:
    parser = errors.ArgumentParser(
        prog="convert_torch_ckpt.py",
        description="Convert a BigCodec checkpoint between formats. The input is anything BigCodec.from_pretrained "
                    "reads: an official .pt, a Lightning .ckpt, a .safetensors file with the official tensor names, "
                    "a converted directory, a train.py run directory (latest step, or --step), or a model-hub id "
                    "owner/name[@revision] (file bigcodec.pt, needs 'bigcodec-jax[hub]'). By default it writes a "
                    "directory holding an Orbax checkpoint of the Flax parameters and the model config "
                    "(config.json). The config is inferred from the tensor shapes unless the file carries it; "
                    "discriminators are converted when present. Exit status: 0 done, 1 the input cannot be "
                    "converted, 2 a bad command line (an input that does not exist, an output that exists without "
                    "--overwrite, or that is the input).")
    parser.add_argument("input", help="checkpoint file, converted directory, train.py run directory or hub id")
    parser.add_argument("output", help="output directory (with --to-torch or --to-safetensors: the file to write; "
                                       "missing folders are created)")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--to-torch", action="store_true",
                        help="write the official released .pt layout (the official PyTorch code loads it)")
    target.add_argument("--to-safetensors", action="store_true",
                        help="write a .safetensors file: the official tensor names (CodecEnc.*, generator.*, "
                             "discriminator.*, spec_discriminator.*), float32, no pickle")
    parser.add_argument("--step", type=errors.non_negative_int, default=None,
                        help="with a train.py run directory: the checkpoint of this step (default: the latest)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing output (a converted checkpoint, or the file of --to-torch / "
                             "--to-safetensors)")
    args = parser.parse_args(argv)
    to_file = args.to_torch or args.to_safetensors
    check_paths(args.input, args.output, to_file, args.overwrite)
    if to_file:
        (to_torch if args.to_torch else to_safetensors)(args.input, args.output, args.step)
        print(f"wrote {args.output}")
    else:
        counts = to_orbax(args.input, args.output, args.step, args.overwrite)
        summary = ", ".join(f"{part}: {n:,} parameters" for part, n in counts.items())
        print(f"wrote {args.output} ({summary})")
    return errors.OK


if __name__ == "__main__":
    sys.exit(main())
