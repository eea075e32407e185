"""Benchmarks of trygg: `python bench/run.py [--only NAME]` prints one JSON line per benchmark."""
