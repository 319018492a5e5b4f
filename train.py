"""GAN training of BigCodec (usage: see bigcodec_jax/training/cli.py or --help)."""
import sys

from absl import flags

from bigcodec_jax.training import cli

__doc__ = cli.__doc__  # absl prints the main module's docstring for --help
flags.adopt_module_key_flags(cli)

if __name__ == "__main__":
    sys.exit(cli.main())
