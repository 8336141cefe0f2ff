"""``output_stats: original``: the original code's discharge mean/std, missing days included."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rvhpc.data.scalers import original_input_stats, original_output_stats, output_stats
from rvhpc.data.store import open_store
from rvhpc.training.config import TrainConfig
from tests.conftest import TINY_TRAIN
from tests.training.trainhelp import rvhpc, train_args


def _hand_scaler(camels_root: Path, basins: list[str]) -> dict[str, np.ndarray]:
    """The original's calculate_mean_and_std, by hand on the raw text files: every training-period
    day, -999 cfs converted like any value, pandas mean and std (ddof=1)."""
    dates = pd.date_range(*TINY_TRAIN)
    qs, xs = [], []
    for basin in basins:
        forcing = next((camels_root / "basin_mean_forcing").glob(f"**/{basin}_*forcing_leap.txt"))
        flow = next((camels_root / "usgs_streamflow").glob(f"**/{basin}_streamflow_qc.txt"))
        area = int(forcing.read_text().splitlines()[2])
        df = pd.read_csv(forcing, sep=r"\s+", header=3)
        df.index = pd.to_datetime(
            df.Year.map(str) + "/" + df.Mnth.map(str) + "/" + df.Day.map(str), format="%Y/%m/%d"
        )
        q = pd.read_csv(flow, sep=r"\s+", header=None, names=["b", "Y", "M", "D", "Q", "f"])
        q.index = pd.to_datetime(q.Y.map(str) + "/" + q.M.map(str) + "/" + q.D.map(str))
        qs.append((28316846.592 * q.Q * 86400 / (area * 10**6)).loc[dates])
        xs.append(df.loc[dates, ["prcp(mm/day)", "srad(W/m2)", "tmax(C)", "tmin(C)", "vp(Pa)"]])
    q_all, x_all = pd.concat(qs), pd.concat(xs)
    assert (q_all < 0).sum() > 0, "the fixture should hold missing (-999) days"
    return {
        "output_mean": q_all.mean(),
        "output_std": q_all.std(),
        "input_means": x_all.mean().to_numpy(),
        "input_stds": x_all.std().to_numpy(),
    }


def test_original_stats_match_the_hand_computed_ones(tiny_camels, tiny_store):
    hand = _hand_scaler(Path(tiny_camels.root), list(tiny_camels.basins))
    store = open_store(tiny_store, period="train")
    mean, std = original_output_stats(store)
    assert mean == pytest.approx(hand["output_mean"], rel=1e-6)
    assert std == pytest.approx(hand["output_std"], rel=1e-6)
    x_mean, x_std = original_input_stats(store)
    np.testing.assert_allclose(x_mean, hand["input_means"], rtol=1e-6)
    np.testing.assert_allclose(x_std, hand["input_stds"], rtol=1e-6)
    # the missing days (negative mm/day) pull the mean below the observed one
    assert mean < store.y_mean and std != store.y_std
    assert output_stats(store, "observed") == (store.y_mean, store.y_std)


def test_default_leaves_cell_ids_alone(tmp_path):
    default = TrainConfig.create(store=tmp_path / "s.h5")
    assert "output_stats" not in default.identity()
    original = TrainConfig.create(store=tmp_path / "s.h5", output_stats="original")
    assert original.identity()["output_stats"] == "original"
    with pytest.raises(Exception, match="output_stats"):
        TrainConfig.create(store=tmp_path / "s.h5", output_stats="paper")


def test_train_and_evaluate_with_original_output_stats(tiny_store, tmp_path):
    out = tmp_path / "run"
    proc = rvhpc(*train_args(tiny_store, out, "--output-stats", "original", epochs=1))
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / "config.json").read_text())["output_stats"] == "original"
    again = rvhpc("evaluate", out, "--out", tmp_path / "ev")
    assert again.returncode == 0, again.stderr
    record = json.loads((tmp_path / "ev" / "evaluation.json").read_text())
    mean, std = original_output_stats(open_store(tiny_store, period="train"))
    assert record["output_scaler"] == {"kind": "original", "mean": mean, "std": std}
    a = pd.read_parquet(out / "predictions.parquet")
    b = pd.read_parquet(tmp_path / "ev" / "predictions.parquet")
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    bad = rvhpc(*train_args(tiny_store, tmp_path / "bad", "--output-stats", "paper"))
    assert bad.returncode == 2 and "output_stats" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
