"""The `bigcodec` command (installed by pip; `python -m bigcodec_jax` is the same): one subcommand per tool.

Each subcommand runs the very program a checkout runs as a script, with the same options: its `main`
function gets the remaining arguments. Modules are imported only for the subcommand that runs, so
`bigcodec --help` is quick.
"""
from __future__ import annotations

import dataclasses
import importlib
import sys
from typing import Sequence

PROG = "bigcodec"


@dataclasses.dataclass(frozen=True)
class Command:
    target: str                 # "module:function" taking argv (the arguments after the subcommand)
    summary: str                # one line for `bigcodec --help`
    same_as: str                # the script or module a checkout runs for it
    prefix: tuple[str, ...] = ()  # arguments put before the user's (inference.py's own subcommand)


COMMANDS = {
    "encode": Command("bigcodec_jax.inference.cli:main",
                      "audio files, folders or file lists -> codes files (.codes.npz)", "python inference.py encode",
                      ("encode",)),
    "decode": Command("bigcodec_jax.inference.cli:main", "codes files or folders of them -> 16 kHz wav",
                      "python inference.py decode", ("decode",)),
    "reconstruct": Command("bigcodec_jax.inference.cli:main", "audio -> codes -> 16 kHz wav",
                           "python inference.py reconstruct", ("reconstruct",)),
    "evaluate": Command("bigcodec_jax.evaluate:main", "reconstruct a data set and measure it: report.html (listen and "
                        "look), metrics.json, utterances.csv", "python -m bigcodec_jax.evaluate"),
    "convert": Command("bigcodec_jax.convert:main", "between checkpoint formats: .pt, .ckpt, .safetensors, converted "
                       "directory (Orbax), hub id", "python convert_torch_ckpt.py"),
    "demo": Command("bigcodec_jax.demo:main", "train a tiny codec on CPU for a few minutes; report.html compares it "
                    "untrained and trained", "python -m bigcodec_jax.demo"),
    "train": Command("bigcodec_jax.commands:train", "GAN training with the official recipe (absl flags: --config, "
                     "--workdir, --config.<key>=<value>)", "python train.py"),
    "benchmark": Command("bigcodec_jax.benchmark.__main__:main",
                         "throughput benchmarks: infer, train, stream, e2e, suite", "python -m bigcodec_jax.benchmark"),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = [f"usage: {PROG} <command> [options]      (or: python -m bigcodec_jax <command> [options])", "",
             "BigCodec, the 1.04 kbps neural speech codec (16 kHz, 80 frames/s), in JAX/Flax.", "", "commands:"]
    lines += [f"  {name:<{width}}  {command.summary}" for name, command in COMMANDS.items()]
    lines += ["", f"`{PROG} <command> --help` explains a command and its options. Each command is the program a",
              "checkout runs as:"]
    lines += [f"  {PROG} {name:<{width}}  = {command.same_as}" for name, command in COMMANDS.items()]
    lines += ["", "A --checkpoint (or convert's input) is an official .pt or Lightning .ckpt, a .safetensors file with",
              "the official tensor names, a converted directory, or a model-hub id owner/name[@revision]",
              "(needs pip install 'bigcodec-jax[hub]'); a path that exists on disk always wins over a hub id.",
              "Example:",
              f"  {PROG} reconstruct speech/ --checkpoint bigcodec.pt --output reconstructed/"]
    return "\n".join(lines)


def train(argv: Sequence[str]) -> int:
    """train.py's program: absl parses the flags (`--config`, `--workdir`, `--config.<key>=<value>`), as in train.py."""
    from absl import flags

    from bigcodec_jax.training import cli

    # absl's --help prints the __main__ module's docstring and the key flags of sys.argv[0]: make them train.py's.
    for flag in flags.FLAGS.get_key_flags_for_module(cli):
        flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)
    sys.modules["__main__"].__doc__ = cli.__doc__
    return cli.main(list(argv))


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage(), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    if argv[0] == "--version":
        from bigcodec_jax import __version__

        print(f"{PROG} {__version__}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"{PROG}: error: unknown command {name!r}; choose from {', '.join(COMMANDS)} (see {PROG} --help)",
              file=sys.stderr)
        return 2
    command = COMMANDS[name]
    module, function = command.target.split(":")
    return getattr(importlib.import_module(module), function)([*command.prefix, *rest])
