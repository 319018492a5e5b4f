"""Throughput benchmarks (see __main__)."""
