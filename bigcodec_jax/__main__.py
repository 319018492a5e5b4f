"""`python -m bigcodec_jax <command>`: the `bigcodec` command (see `bigcodec_jax/commands.py`)."""
import sys

from bigcodec_jax.commands import main

if __name__ == "__main__":
    sys.exit(main())
