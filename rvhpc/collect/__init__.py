"""Collect finished grid cells with Dask: per-basin metrics, seed ensembles, tables and figures."""

from rvhpc.collect.run import CollectReport, collect

__all__ = ["CollectReport", "collect"]
