"""Benchmarks of the miner (not part of the test suite): ``python -m bench --help``."""
