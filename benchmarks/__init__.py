"""Benchmarks: baseline vs rvhpc, side by side."""
