"""Collect streams predictions basin by basin: the same bits as reading each file whole, files
that are not basin-major fall back to the whole read, and the reader holds a batch, not a file."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rvhpc.collect import compute, io
from rvhpc.collect.discover import scan_runs_dir
from rvhpc.errors import CollectError
from rvhpc.runrecords import write_done
from tests.collect.conftest import cell, noisy, observed


@pytest.fixture
def small_batches(monkeypatch):
    """Batches of 97 rows and row groups of 333: basins (400 days each) span both."""
    monkeypatch.setattr(io, "BATCH_ROWS", 97)


def _rewrite(run_dir, frame: pd.DataFrame, row_group_size: int = 333) -> None:
    pq.write_table(
        pa.Table.from_pandas(frame, preserve_index=False),
        run_dir / "predictions.parquet",
        row_group_size=row_group_size,
    )
    write_done(run_dir)  # DONE vouches for the rewritten file


def _seeds(tmp_path, n_basins: int = 5):
    qobs = observed(n_basins)
    runs = tmp_path / "runs"
    for seed in (1, 2, 3):
        d = cell(runs, "ea", "physics", None, seed, qobs, noisy(qobs, seed))
        _rewrite(d, pd.read_parquet(d / "predictions.parquet"))
    (exp, cells), *_ = scan_runs_dir(runs).experiments().items()
    return exp, cells


def _whole_cell(c) -> pd.DataFrame:
    return compute._basin_metrics(io.read_predictions(c.predictions, c.label))


def test_streamed_metrics_are_the_whole_file_metrics(tmp_path, small_batches):
    exp, cells = _seeds(tmp_path)
    assert pq.ParquetFile(cells[0].predictions).metadata.num_row_groups == 7
    for c in cells:
        frame, computed = compute.cell_metrics(c, f"k{c.seed}", tmp_path / "cache")
        assert computed
        pd.testing.assert_frame_equal(frame, _whole_cell(c), check_exact=True)
    frame, _ = compute.ensemble_metrics(exp.name, cells, ["a", "b", "c"], tmp_path / "cache")
    whole = compute._whole_ensemble(exp.name, cells)
    pd.testing.assert_frame_equal(frame, whole, check_exact=True)
    assert len(frame) == 5 and frame["NSE"].notna().all()


def test_files_not_written_basin_by_basin_are_read_whole(tmp_path, small_batches):
    exp, cells = _seeds(tmp_path)
    expected_cell = _whole_cell(cells[0])
    expected_ensemble = compute._whole_ensemble(exp.name, cells)
    # seed 1: rows shuffled (basins interleaved, dates out of order); seed 2: basins reversed
    frame = pd.read_parquet(cells[0].predictions)
    _rewrite(cells[0].run_dir, frame.sample(frac=1.0, random_state=0))
    with pytest.raises(io.NotGrouped):
        list(io.iter_basins(cells[0].predictions, cells[0].label))
    frame = pd.read_parquet(cells[1].predictions)
    _rewrite(cells[1].run_dir, frame.iloc[::-1])
    got, _ = compute.cell_metrics(cells[0], "shuffled", tmp_path / "cache")
    # the same per-basin values; the shuffled file's sums run in another order: last bits only
    pd.testing.assert_frame_equal(got, expected_cell, rtol=1e-12)
    ens, _ = compute.ensemble_metrics(exp.name, cells, ["x"], tmp_path / "cache")
    pd.testing.assert_frame_equal(ens, expected_ensemble, check_exact=True)


def test_streamed_ensemble_refuses_what_the_whole_read_refuses(tmp_path, small_batches):
    exp, cells = _seeds(tmp_path)
    frame = pd.read_parquet(cells[2].predictions)
    frame.loc[frame.index[450], "qobs"] += 1.0  # basin 2, another observation
    _rewrite(cells[2].run_dir, frame)
    with pytest.raises(CollectError) as err:
        compute.ensemble_metrics(exp.name, cells, ["q"], tmp_path / "cache")
    assert str(err.value) == (
        f"experiment {exp.name}: cells {cells[0].label} and {cells[2].label} differ in "
        "observed discharge; not ensembled (rerun the odd cell on the same store)"
    )
    frame.loc[frame.index[450], "date"] = frame.loc[frame.index[451], "date"]
    _rewrite(cells[2].run_dir, frame)
    with pytest.raises(CollectError, match="repeats basin .* on one date"):
        compute.ensemble_metrics(exp.name, cells, ["d"], tmp_path / "cache")


def test_the_reader_holds_a_batch_not_the_file(tmp_path):
    """2,000 basins x 400 days in row groups of 4,000 rows: while streaming, Arrow holds about a
    batch (BATCH_ROWS rows), far below the whole file's columns (pyarrow's default pre-buffering
    would hold every row group's bytes: the test fails with it)."""
    n_basins, dates = 2000, pd.date_range("2000-01-01", periods=400)
    qobs = np.random.default_rng(0).random((n_basins, len(dates)))
    frame = pd.DataFrame(
        {
            "basin": np.repeat([f"{i:08d}" for i in range(n_basins)], len(dates)),
            "date": np.tile(dates.to_numpy(), n_basins),
            "qobs": qobs.ravel(),
            "qsim": qobs.ravel(),
        }
    )
    path = tmp_path / "predictions.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=4000)
    del frame
    base = pa.total_allocated_bytes()
    held = [pa.total_allocated_bytes() - base for _ in io.iter_basins(path, "c", with_dates=True)]
    assert len(held) == n_basins
    table = pq.read_table(path, columns=["basin", "date", "qobs", "qsim"])
    whole = pa.total_allocated_bytes() - base
    del table
    assert max(held) < whole / 4, (max(held), whole)
