"""`python -m bigcodec_jax.benchmark {infer,train,stream,family,e2e,suite}`: throughput benchmarks, one module each.

Results are recorded, with the hardware named, in docs/benchmarks.md. No library module imports this package.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from bigcodec_jax import errors

# subcommand -> (module in this package, one-line help)
SUBJECTS = {
    "infer": ("infer", "encode/decode throughput of the full-size codec (--trace: a jax.profiler trace)"),
    "train": ("train", "GAN training step time and peak memory of the full-size model (--compile-only: memory)"),
    "stream": ("stream", "streaming encode/decode real-time factor and latency against offline"),
    "family": ("family", "X-Codec2 / NeuCodec reconstruct throughput against the official code"),
    "e2e": ("e2e", "inference.py reconstruct over a folder of speech files against the kernel's throughput"),
    "suite": ("suite", "inference and training steps within a time budget, to a JSON file (run this first on a "
                       "lent accelerator)"),
}


@errors.command()
def main(argv: list[str] | None = None) -> int:
    parser = errors.ArgumentParser(prog="python -m bigcodec_jax.benchmark", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    for name, (module, help_text) in SUBJECTS.items():
        mod = importlib.import_module(f"bigcodec_jax.benchmark.{module}")
        mod.add_arguments(sub.add_parser(name, help=help_text, description=mod.__doc__,
                                         formatter_class=argparse.RawDescriptionHelpFormatter))
    args = parser.parse_args(argv)
    importlib.import_module(f"bigcodec_jax.benchmark.{SUBJECTS[args.what][0]}").run(args)
    return errors.OK


if __name__ == "__main__":
    sys.exit(main())
