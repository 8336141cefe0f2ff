"""The published files' traits, each in isolation on a hand-made tree: `prepare` builds the store
and what it stores is what the files say (missing stays missing, text stays as written)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rvhpc.data.attributes import read_attributes
from rvhpc.data.store import open_store, prepare_store
from rvhpc.data.storeinfo import store_attributes
from tests.data import realshaped as rs


def _prepare(root, tmp_path):
    return prepare_store(
        root, root / "basins.txt", tmp_path / "store.h5", train_period=rs.TRAIN, eval_period=rs.EVAL
    )


def _same_attributes(stored: pd.DataFrame, written: pd.DataFrame) -> None:
    """Every column of the files comes back from the store, missing where the files say NA."""
    assert list(stored.index) == list(written.index)
    for col in written.columns:
        want, got = written[col], stored[col]
        np.testing.assert_array_equal(got.isna().to_numpy(), want.isna().to_numpy(), err_msg=col)
        if pd.api.types.is_numeric_dtype(got):
            np.testing.assert_allclose(
                got.dropna().to_numpy(), want.dropna().astype(float).to_numpy(), err_msg=col
            )
        else:
            assert got.dropna().tolist() == want.dropna().tolist(), col


@pytest.mark.parametrize("trait", list(rs.TRAITS))
def test_each_trait_alone_builds_the_store(tmp_path, trait):
    root = rs.make_base(tmp_path / "camels")
    rs.TRAITS[trait](root)
    store = _prepare(root, tmp_path)
    written = rs.attribute_table_of(root)
    _same_attributes(store_attributes(store), written)
    s = open_store(store)
    assert s.basins == list(rs.BASINS) and np.isfinite(s.descriptors).all()
    assert np.isfinite(s.forcing).all()
    q = s.qobs
    if trait == "flags":  # -999.00 M days are missing, A:e days are observed values
        assert np.isnan(q[:, 50:55]).all() and np.isfinite(q[:, 3]).all()
        assert np.isfinite(np.delete(q, range(50, 55), axis=1)).all()
    else:
        assert np.isfinite(q).all()
    k, i = 10, 1  # a value read back against the file's number
    cfs = rs.discharge_cfs(i, k)
    assert q[i, k] == pytest.approx(cfs * 0.0283168466 * 86400 / rs.AREAS[rs.BASINS[i]] * 1000)


def test_all_traits_round_trip_text_and_numeric_missing(tmp_path):
    root = rs.make_real_shaped(tmp_path / "camels")
    stored = store_attributes(_prepare(root, tmp_path))
    _same_attributes(stored, rs.attribute_table_of(root))
    assert pd.isna(stored.loc["01000001", "geol_2nd_class"])  # text NA: missing, not "nan"
    assert "nan" not in stored["geol_2nd_class"].dropna().tolist()
    assert stored.loc["03281100", "geol_2nd_class"] == "Acid plutonic rocks"
    assert np.isnan(stored.loc["12000002", "geol_porostiy"])
    assert np.isnan(stored.loc["01000001", ["root_depth_50", "root_depth_99"]].astype(float)).all()
    signatures = stored.loc["03281100", list(rs.SIGNATURES)].astype(float)
    assert signatures.isna().sum() == 12 and np.isfinite(signatures["baseflow_index"])
    assert stored.loc["01000001", "dom_land_cover"] == "    Mixed Forests"
    assert (
        stored.loc["03281100", "gauge_name"] == 'Bear Creek at "Old Mill" Bridge, nr. Salem, Oreg.'
    )
    assert stored.loc["12000002", "gauge_name"] == "Coeur d'Alene River at Enaville, Idaho"
    assert stored.loc["01000001", "huc_02"] == "01"
    assert "readme" not in " ".join(stored.columns)


def test_reader_keeps_quotes_text_and_na(tmp_path):
    root = rs.make_real_shaped(tmp_path / "camels")
    attrs = read_attributes(root, list(rs.BASINS))
    assert attrs.shape == (3, sum(len(c) for c in rs.ATTRIBUTE_COLUMNS.values()))
    assert attrs["geol_2nd_class"].isna().tolist() == [True, False, False]
    assert attrs.loc["03281100", "gauge_name"].count('"') == 2


def test_end_to_end_on_real_shaped_files(tmp_path):
    """prepare -> train one tiny epoch -> evaluate -> collect, all through the CLI, on a tree with
    every trait of the published files."""
    from tests.training.trainhelp import TINY, rvhpc

    root = rs.make_real_shaped(tmp_path / "camels")
    store, run = tmp_path / "store.h5", tmp_path / "runs" / "ea-physics-seed0"
    periods = ["--train-start", rs.TRAIN[0], "--train-end", rs.TRAIN[1]]
    periods += ["--eval-start", rs.EVAL[0], "--eval-end", rs.EVAL[1]]
    steps = [
        ("data", "prepare", "--camels-root", root, "--basins", root / "basins.txt", "--out", store)
        + tuple(periods),
        ("train", "--store", store, "--out", run, "--epochs", 1, *TINY, "--device", "cpu"),
        ("evaluate", run, "--out", tmp_path / "eval", "--device", "cpu"),
        ("collect", tmp_path / "runs", "--out", tmp_path / "results", "--workers", 1),
    ]
    for args in steps:
        proc = rvhpc(*args, timeout=600)
        assert proc.returncode == 0, f"rvhpc {args[0]} failed:\n{proc.stderr[-3000:]}"
    metrics = pd.read_csv(tmp_path / "eval" / "metrics.csv", dtype={"basin": str})
    assert sorted(metrics["basin"]) == list(rs.BASINS)
    summary = pd.read_csv(tmp_path / "results" / "summary.csv").set_index("experiment")
    assert list(summary.index) == ["EP"] and np.isfinite(summary.loc["EP", "ensemble_median_nse"])
