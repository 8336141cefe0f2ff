"""Defect 8: a store altered after it was built (header intact) was used silently, and a DONE
without predictions counted as done everywhere but collect. Stores now carry per-dataset
checksums checked by prepare and every reader; DONE records the predictions' size and sha256, and
``rvhpc.runrecords.run_is_done`` is the one test of "done" (train, grid, status, collect)."""

from __future__ import annotations

import json
import shutil

import h5py
import pytest

from rvhpc.collect.discover import scan_runs_dir
from rvhpc.data.store import open_store, prepare_store
from rvhpc.errors import StoreError
from rvhpc.runrecords import run_is_done
from tests.conftest import TINY_EVAL, TINY_TRAIN
from tests.hostile.a_help import copy_run, one_line, train_once
from tests.training.trainhelp import rvhpc, train_args


def _alter(store, dataset="forcing"):
    with h5py.File(store, "r+") as f:
        ds = f[dataset]
        ds[0, 0] = ds[0, 0] + 1.0


def test_altered_store_refused_and_rebuilt_by_prepare(tiny_camels, tiny_store, tmp_path):
    store = tmp_path / "store.h5"
    shutil.copy(tiny_store, store)
    _alter(store)
    with pytest.raises(StoreError, match="dataset forcing does not match its checksum"):
        open_store(store)
    proc = rvhpc(*train_args(store, tmp_path / "run", epochs=1))
    one_line(proc, 2, "forcing", "checksum", "rvhpc data prepare")
    assert not (tmp_path / "run").exists()
    info = rvhpc("data", "info", store)
    one_line(info, 2, "checksum")
    # prepare does not reuse it: it rebuilds, and the result reads again
    prepare_store(
        tiny_camels.root,
        tiny_camels.basin_file,
        store,
        train_period=TINY_TRAIN,
        eval_period=TINY_EVAL,
    )
    assert open_store(store).basins == open_store(tiny_store).basins


def test_store_without_checksums_refused(tiny_store, tmp_path):
    store = tmp_path / "old.h5"
    shutil.copy(tiny_store, store)
    with h5py.File(store, "r+") as f:
        del f["qobs"].attrs["sha256"]
    with pytest.raises(StoreError, match="qobs carries no content checksum.*rvhpc data prepare"):
        open_store(store)


@pytest.fixture
def run(tiny_store, tmp_path_factory, tmp_path):
    return copy_run(train_once(tiny_store, tmp_path_factory), tmp_path / "runs" / "a")


def test_done_without_predictions_is_not_done(run, tiny_store):
    assert run_is_done(run, verify=True)
    (run / "predictions.parquet").unlink()
    assert not run_is_done(run)
    discovered = scan_runs_dir(run.parent)
    assert discovered.cells == [] and len(discovered.problems) == 1
    assert discovered.problems[0].startswith("cell a: predictions.parquet is missing or not")
    # train does not skip it: it evaluates again from the last checkpoint (no retraining)
    proc = rvhpc(*train_args(tiny_store, run, epochs=1))
    assert proc.returncode == 0, proc.stderr
    assert "already done" not in proc.stdout and "epoch 1/1:" not in proc.stderr
    assert run_is_done(run, verify=True)


def test_altered_predictions_are_not_done(run, tiny_store):
    pred = run / "predictions.parquet"
    data = bytearray(pred.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, other bytes
    pred.write_bytes(bytes(data))
    assert run_is_done(run) and not run_is_done(run, verify=True)
    proc = rvhpc(*train_args(tiny_store, run, epochs=1))
    assert proc.returncode == 0 and "already done" not in proc.stdout, proc.stderr
    assert run_is_done(run, verify=True)


def test_old_or_empty_done_is_not_done(run):
    (run / "DONE").write_text("median NSE 0.5\n")
    assert not run_is_done(run)
    (run / "DONE").write_text("")
    assert not run_is_done(run)


def test_grid_status_does_not_count_a_bare_done(tmp_path):
    from rvhpc.grid.expand import load_grid
    from rvhpc.grid.manifest import write_manifest
    from rvhpc.hpc.status import grid_status
    from rvhpc.runrecords import write_done
    from tests.hpc._gridtools import write_grid

    grid = load_grid(write_grid(tmp_path))
    write_manifest(grid)
    bare, real = grid.cells[0].run_dir, grid.cells[1].run_dir
    bare.mkdir(parents=True)
    (bare / "DONE").write_text("")
    real.mkdir(parents=True)
    (real / "predictions.parquet").write_bytes(b"stand-in predictions")
    write_done(real)
    assert [c.is_done() for c in grid.cells[:2]] == [False, True]
    assert [c.state for c in grid_status(grid).cells[:2]] == ["missing", "done"]
    shown = rvhpc("grid", "show", grid.path, "--json")
    assert shown.returncode == 0, shown.stderr
    cells = json.loads(shown.stdout)["cells"]
    assert [c["done"] for c in cells[:2]] == [False, True]
