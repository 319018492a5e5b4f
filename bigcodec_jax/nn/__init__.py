"""Layers with no knowledge of BigCodec: weight-normed convolutions, activations, recurrences."""
