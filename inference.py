"""Encode audio to BigCodec codes, decode codes to audio, or reconstruct audio (see --help)."""
import sys

from bigcodec_jax.inference.cli import main

if __name__ == "__main__":
    sys.exit(main())
