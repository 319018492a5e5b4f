"""`bigcodec convert` / `python -m bigcodec_jax.convert` / `convert_torch_ckpt.py`: between checkpoint formats.

Any source `load_codec` reads is an input, of any family: an official `.pt` / Lightning `.ckpt`, a
`.safetensors` file, a converted directory, a `train.py` run directory (its latest checkpoint, or `--step`)
or a model-hub id; X-Codec2 / NeuCodec releases and transformers' X-Codec2 port too, with `--semantic` for
one without the semantic model. A family checkpoint converts to a directory or to `--to-safetensors` (the
release's tensor names, its config in the metadata so it reloads with the same sizes); `--to-torch` writes
BigCodec's release layout only. Nothing is ever deleted that the conversion did not write: an existing output
is replaced only with `--overwrite` (and only a converted checkpoint, or a file for `--to-torch` /
`--to-safetensors`), never the input itself.
"""
from __future__ import annotations

import os
import sys

import jax
import numpy as np

from bigcodec_jax.codec import config as config_lib
from bigcodec_jax import errors, model_configs
from bigcodec_jax.checkpoints import official, pretrained, safetensors_format, store, torch_zip, xcodec2_layout
from bigcodec_jax.io import paths


Source = str | os.PathLike


def to_orbax(src: Source, dst: Source, step: int | None = None, overwrite: bool = False,
             semantic: Source | None = None) -> dict[str, int]:
    """Write a converted directory from any checkpoint; returns parameter counts per part."""
    config, params = pretrained.load(src, step=step, semantic=semantic)
    store.save(dst, config, params, overwrite)
    return {part: sum(int(np.size(x)) for x in jax.tree.leaves(tree)) for part, tree in params.items()}


def to_torch(src: Source, dst: Source, step: int | None = None, semantic: Source | None = None) -> None:
    """Export a BigCodec checkpoint to the official released `.pt` layout (discriminators included when present,
    and the model config, which the official loader ignores)."""
    config, params = pretrained.load(src, step=step, semantic=semantic)
    if model_configs.family(config) != model_configs.BIGCODEC:
        raise errors.UsageError(f"--to-torch writes BigCodec's release layout, and {src} holds {config.family} "
                                "weights: convert them to a directory or --to-safetensors")
    torch_zip.save(official.to_checkpoint(params, config), dst)


def to_safetensors(src: Source, dst: Source, step: int | None = None, semantic: Source | None = None) -> None:
    """Write any checkpoint as a `.safetensors` file with the official tensor names
    (`checkpoints/safetensors_format.py`), the model config in its metadata."""
    config, params = pretrained.load(src, step=step, semantic=semantic)
    if model_configs.family(config) == model_configs.BIGCODEC:
        safetensors_format.save(official.flax_to_torch(params, config), dst, config_lib.to_json(config))
    else:
        safetensors_format.save_tensors(xcodec2_layout.state_of(params["model"], config), dst,
                                        config_lib.to_json(config))


def check_paths(src: str, dst: str, to_file: bool, overwrite: bool, semantic: str | None = None) -> None:
    """UsageError, before anything is read, for an input (or semantic source) that does not exist, an output that
    is the input, lies inside it, cannot be written, or exists (without `overwrite`)."""
    pretrained.check_source(src, "the input")
    if semantic is not None:
        pretrained.check_source(semantic, "--semantic")
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
        description="Convert a BigCodec, X-Codec2 or NeuCodec checkpoint between formats. The input is anything "
                    "load_codec reads: an official .pt, a Lightning .ckpt, a .safetensors file with the official "
                    "tensor names, a converted directory, a train.py run directory (latest step, or --step), "
                    "X-Codec2's model.safetensors or Lightning .ckpt, NeuCodec's pytorch_model.bin, transformers' "
                    "X-Codec2 port (model.safetensors with its config.json, or their folder), or a model-hub id "
                    "owner/name[@revision] (file bigcodec.pt, or the released weights of HKUSTAudio/xcodec2, "
                    "HKUSTAudio/xcodec2-hf and neuphonic/neucodec; needs 'bigcodec-jax[hub]'). By default it writes a "
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
                        help="write the official released .pt layout (the official PyTorch code loads it); "
                             "BigCodec only")
    target.add_argument("--to-safetensors", action="store_true",
                        help="write a .safetensors file: the official tensor names (CodecEnc.*, generator.*, "
                             "discriminator.*, spec_discriminator.*; X-Codec2 / NeuCodec: the release's), float32, "
                             "no pickle, the model config in its metadata")
    parser.add_argument("--semantic", default=None, help=pretrained.SEMANTIC_HELP)
    parser.add_argument("--step", type=errors.non_negative_int, default=None,
                        help="with a train.py run directory: the checkpoint of this step (default: the latest)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing output (a converted checkpoint, or the file of --to-torch / "
                             "--to-safetensors)")
    args = parser.parse_args(argv)
    to_file = args.to_torch or args.to_safetensors
    check_paths(args.input, args.output, to_file, args.overwrite, args.semantic)
    if to_file:
        (to_torch if args.to_torch else to_safetensors)(args.input, args.output, args.step, args.semantic)
        print(f"wrote {args.output}")
    else:
        counts = to_orbax(args.input, args.output, args.step, args.overwrite, args.semantic)
        summary = ", ".join(f"{part}: {n:,} parameters" for part, n in counts.items())
        print(f"wrote {args.output} ({summary})")
    return errors.OK


if __name__ == "__main__":
    sys.exit(main())
