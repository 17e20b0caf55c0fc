"""Benchmarks: `python -m bench NAME [--quick] [--json]`; each prints figures and its same-run baseline."""
