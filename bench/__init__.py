"""Benchmarks: ``make bench`` (bench.run) and its load generator (bench.load)."""
