"""`python -m bigcodec_jax.evaluate`: codec quality on a data set (see `bigcodec_jax/evaluation/cli.py`)."""
import sys

from bigcodec_jax.evaluation.cli import main

if __name__ == "__main__":
    sys.exit(main())
