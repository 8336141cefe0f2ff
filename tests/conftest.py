"""Shared fixtures. Tests that need the local Slurm cluster use ``slurm_cluster``: without a
cluster they skip on a workstation but FAIL when ``CI`` is set (CI must start it:
scripts/test.sh)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from rvhpc import numerics

# In-process training (library calls) runs in the default numerics mode, whose settings must be in
# place before torch, MKL and numpy load: as the rvhpc command's entry point does, first thing.
numerics.enter(numerics.DEFAULT_MODE)

REPO = Path(__file__).resolve().parents[1]


def _slurm_ready() -> str | None:
    """None when sinfo shows a usable node, else the reason."""
    if shutil.which("sinfo") is None:
        return "sinfo not found (run slurm/cluster-up.sh)"
    proc = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=30)
    states = proc.stdout.split()
    if proc.returncode != 0 or not any(
        s in ("idle", "mixed", "allocated", "completing") for s in states
    ):
        return f"no usable Slurm node: {proc.stdout.strip() or proc.stderr.strip()}"
    return None


@pytest.fixture(scope="session")
def slurm_cluster() -> None:
    """Require the real local Slurm cluster (slurm/cluster-up.sh)."""
    reason = _slurm_ready()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs the local Slurm cluster: {reason}")
        pytest.skip(reason)


# --- CAMELS US test data (rvhpc.data) ---------------------------------------------------------

TINY_TRAIN = ("2000-10-01", "2002-09-30")
TINY_EVAL = ("1999-01-01", "2000-09-30")


@pytest.fixture(scope="session")
def tiny_camels(tmp_path_factory):
    """A synthetic CAMELS US tree: 4 basins, daily data 1998-01-01..2003-12-31, seed 0.
    Returns rvhpc.data.synth.SynthResult (root, basins, basin_file, dates); treat it as
    read-only."""
    from rvhpc import progress
    from rvhpc.data.synth import synthesize

    progress.set_quiet(True)
    return synthesize(
        tmp_path_factory.mktemp("tiny_camels"),
        n_basins=4,
        start="1998-01-01",
        end="2003-12-31",
        seed=0,
    )


@pytest.fixture(scope="session")
def tiny_store(tiny_camels, tmp_path_factory):
    """Path of a prepared HDF5 basin store of ``tiny_camels`` (train 2000-10-01..2002-09-30,
    eval 1999-01-01..2000-09-30); treat it as read-only."""
    from rvhpc.data.store import prepare_store

    out = tmp_path_factory.mktemp("tiny_store") / "store.h5"
    return prepare_store(
        tiny_camels.root,
        tiny_camels.basin_file,
        out,
        train_period=TINY_TRAIN,
        eval_period=TINY_EVAL,
    )


# --- Caravan test data (rvhpc.data.datasets.caravan) -------------------------------------------

CARAVAN_TRAIN = ("1997-01-01", "1998-12-31")
CARAVAN_EVAL = ("1999-01-01", "1999-12-31")


@pytest.fixture(scope="session")
def tiny_caravan(tmp_path_factory):
    """A synthetic Caravan root: 6 usable basins in 4 sub-datasets (+ the all-NaN basin of
    basin_list_all.txt), daily 1995-01-01..2000-12-31, seed 3; treat it as read-only."""
    from rvhpc import progress
    from rvhpc.data.synth import synthesize_dataset

    progress.set_quiet(True)
    return synthesize_dataset(
        "caravan",
        tmp_path_factory.mktemp("tiny_caravan") / "Caravan",
        n_basins=6,
        start="1995-01-01",
        end="2000-12-31",
        seed=3,
    )


@pytest.fixture(scope="session")
def caravan_store(tiny_caravan, tmp_path_factory):
    """Path of the netCDF store of ``tiny_caravan`` (train 1997-1998, eval 1999); read-only."""
    from rvhpc.data.store import prepare_store

    out = tmp_path_factory.mktemp("caravan_store") / "store.h5"
    return prepare_store(
        tiny_caravan.root,
        tiny_caravan.basin_file,
        out,
        dataset="caravan",
        train_period=CARAVAN_TRAIN,
        eval_period=CARAVAN_EVAL,
    )
