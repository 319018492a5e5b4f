"""Corpus-scale inference: finding and reading audio files, codes files, the command line."""
