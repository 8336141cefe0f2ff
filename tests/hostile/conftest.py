"""Fixtures of the hostile tests: the collect tests' session Dask cluster (``client``)."""

from tests.collect.conftest import client  # noqa: F401
