"""Fixtures for collect tests: one small LocalCluster for the session, run-directory builders."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rvhpc import progress
from rvhpc.experiments import run_subdir
from tests.support.fake_runs import hydrographs, write_cell

DATES = pd.date_range("2000-01-01", periods=400, freq="D")


@pytest.fixture(scope="session")
def client():
    """A real Dask LocalCluster: one single-threaded worker process."""
    from distributed import Client, LocalCluster

    progress.set_quiet(True)
    # the cluster closes after pytest has released its captured streams: keep its info lines quiet
    logging.getLogger("distributed").setLevel(logging.WARNING)
    cluster = LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    with Client(cluster) as c:
        yield c
    cluster.close()


def basin_ids(n: int) -> list[str]:
    return [f"{1000000 + 37 * i:08d}" for i in range(n)]


def observed(n_basins: int = 4, seed: int = 0) -> np.ndarray:
    return hydrographs(np.random.default_rng(seed), n_basins, len(DATES), missing=0.05)


def cell(
    root: Path,
    arch: str,
    static: str,
    dim,
    seed: int,
    qobs: np.ndarray,
    qsim: np.ndarray,
    basins: list[str] | None = None,
    done: bool = True,
    attr_seed=None,
) -> Path:
    """One run directory in the training contract's format under ``root``."""
    attr = attr_seed if attr_seed is not None else (0 if dim else None)
    run_dir = root / run_subdir("t", arch, static, dim, attr, seed)
    return write_cell(
        run_dir,
        arch,
        static,
        dim,
        attr,
        seed,
        basins or basin_ids(qobs.shape[0]),
        DATES,
        qobs,
        qsim,
        done=done,
    )


def noisy(qobs: np.ndarray, seed: int, scale: float = 0.5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    filled = np.where(np.isnan(qobs), 1.0, qobs)
    return np.maximum(
        filled + rng.normal(0, scale, qobs.shape) * np.nanstd(qobs, axis=1, keepdims=True), 0
    )
