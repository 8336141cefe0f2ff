"""A tiny cell trains through the real CLI: run-dir contents, loss falls, skip/refuse/force,
determinism, evaluation from a checkpoint and from reference weights, every architecture."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from rvhpc.data.store import open_store
from rvhpc.evaluation.metrics import METRIC_NAMES, all_metrics
from tests.training.trainhelp import (
    assert_same_predictions,
    assert_same_weights,
    rvhpc,
    train_args,
    weights,
)

EVAL_DAYS = pd.date_range("1999-01-01", "2000-09-30", freq="D")  # tests/conftest.py TINY_EVAL


def test_run_dir_holds_the_contract(trained_run, tiny_store):
    config = json.loads((trained_run / "config.json").read_text())
    assert config["arch"] == "ea" and config["static"] == "physics" and config["experiment"] == "EP"
    assert config["hidden"] == 8 and config["epochs"] == 2 and config["seq_length"] == 30
    assert config["store"] == str(Path(tiny_store).resolve())
    assert config["rvhpc_version"] and "git_commit" in config and config["store_fingerprint"]
    store = open_store(tiny_store, period="eval", warmup=29)

    with np.load(trained_run / "statics.npz") as npz:
        assert list(npz["basins"]) == store.basins and npz["values"].shape == (
            len(store.basins),
            27,
        )

    ckpt = torch.load(trained_run / "checkpoints" / "epoch_002.pt", weights_only=True)
    assert ckpt["epoch"] == 2 and ckpt["batches_done"] == -1
    for key in ("model", "optimizer", "torch_rng", "numpy_rng", "python_rng"):
        assert ckpt[key] is not None, key
    assert sorted(p.name for p in (trained_run / "checkpoints").iterdir()) == [
        "epoch_001.pt",
        "epoch_002.pt",
    ]

    losses = pd.read_csv(trained_run / "losses.csv")
    assert list(losses.columns) == ["epoch", "train_loss", "lr", "seconds"]
    assert list(losses["epoch"]) == [1, 2]
    assert losses["train_loss"].iloc[-1] < losses["train_loss"].iloc[0]  # the loss falls

    pred = pd.read_parquet(trained_run / "predictions.parquet")
    assert list(pred.columns) == ["basin", "date", "qobs", "qsim"]
    assert pred["date"].dtype == "datetime64[ns]" and pred["qsim"].dtype == np.float64
    assert len(pred) == len(store.basins) * len(EVAL_DAYS)
    for i, basin in enumerate(store.basins):
        one = pred[pred["basin"] == basin]
        assert list(one["date"]) == list(EVAL_DAYS)
        days = [store.day_index(d) for d in EVAL_DAYS]
        np.testing.assert_array_equal(
            one["qobs"].to_numpy(), store.qobs[i, days].astype(np.float64)
        )
    assert np.isfinite(pred["qsim"]).all() and (pred["qsim"] >= 0).all()

    metrics = pd.read_csv(trained_run / "metrics.csv", dtype={"basin": str})
    assert list(metrics.columns) == ["basin", *METRIC_NAMES]
    assert list(metrics["basin"]) == store.basins
    one = pred[pred["basin"] == store.basins[0]]
    expected = all_metrics(one["qobs"].to_numpy(), one["qsim"].to_numpy())
    assert metrics.iloc[0]["NSE"] == pytest.approx(expected["NSE"], rel=1e-5)
    assert (trained_run / "DONE").exists()
    assert not [p for p in trained_run.rglob("*") if p.name.endswith(".tmp")]


def test_done_run_is_skipped(trained_run, tiny_store):
    before = (trained_run / "predictions.parquet").stat().st_mtime_ns
    proc = rvhpc(*train_args(tiny_store, trained_run))
    assert proc.returncode == 0, proc.stderr
    assert "already done" in proc.stdout
    assert (trained_run / "predictions.parquet").stat().st_mtime_ns == before


def test_other_config_is_refused_then_force_starts_over(trained_run, tiny_store, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    proc = rvhpc(*train_args(tiny_store, run, "--seed", 5))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert (
        len(lines) == 1
        and "different run" in lines[0]
        and "seed" in lines[0]
        and "--force" in lines[0]
    )
    assert_same_weights(weights(run, 2), weights(trained_run, 2))

    proc = rvhpc(*train_args(tiny_store, run, "--seed", 5, "--force", epochs=1))
    assert proc.returncode == 0, proc.stderr
    assert json.loads((run / "config.json").read_text())["seed"] == 5
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["epoch_001.pt"]


def test_same_seeds_are_bit_identical_other_seed_differs(trained_run, tiny_store, tmp_path):
    proc = rvhpc(*train_args(tiny_store, tmp_path / "again"))
    assert proc.returncode == 0, proc.stderr
    assert_same_weights(weights(tmp_path / "again", 2), weights(trained_run, 2))
    assert_same_predictions(tmp_path / "again", trained_run)

    proc = rvhpc(*train_args(tiny_store, tmp_path / "other", "--seed", 1))
    assert proc.returncode == 0, proc.stderr
    a = pd.read_parquet(trained_run / "predictions.parquet")["qsim"]
    b = pd.read_parquet(tmp_path / "other" / "predictions.parquet")["qsim"]
    assert not np.array_equal(a.to_numpy(), b.to_numpy())


def test_evaluate_run_from_a_checkpoint(trained_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    proc = rvhpc("evaluate", run, "--epoch", 2, "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    assert_same_predictions(run / "evaluation" / "epoch_002", run)
    proc = rvhpc("evaluate", run, "--epoch", 1, "--out", tmp_path / "e1")
    assert proc.returncode == 0, proc.stderr
    e1 = pd.read_parquet(tmp_path / "e1" / "predictions.parquet")
    assert not np.array_equal(
        e1["qsim"].to_numpy(), pd.read_parquet(run / "predictions.parquet")["qsim"].to_numpy()
    )
    assert len(pd.read_csv(tmp_path / "e1" / "metrics.csv")) == 4


@pytest.mark.parametrize(
    "arch,static,extra,experiment",
    [
        ("lstm", "none", [], "LSTM"),
        ("ct", "gaussian", ["--dim", 4, "--attr-seed", 3], "CG-4"),
        ("sr", "one_hot", [], "SR-one_hot"),
        ("fm", "mixed", ["--dim", 30], "FM-30"),
    ],
)
def test_every_architecture_trains(tiny_store, tmp_path, arch, static, extra, experiment):
    proc = rvhpc(
        *train_args(
            tiny_store, tmp_path / "run", "--arch", arch, "--static", static, *extra, epochs=1
        )
    )
    assert proc.returncode == 0, proc.stderr
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["experiment"] == experiment
    with np.load(tmp_path / "run" / "statics.npz") as npz:
        expected_dim = {"none": 0, "gaussian": 4, "one_hot": 4, "mixed": 30}[static]
        assert npz["values"].shape == (4, expected_dim)
    assert np.isfinite(pd.read_parquet(tmp_path / "run" / "predictions.parquet")["qsim"]).all()


def test_train_cell_library_call(tiny_store, tmp_path):
    from rvhpc import progress
    from rvhpc.training.config import TrainConfig
    from rvhpc.training.run import train_cell

    progress.set_quiet(True)
    config = TrainConfig.create(
        store=tiny_store,
        arch="ea",
        static="gaussian",
        dim=3,
        epochs=1,
        hidden=8,
        batch_size=64,
        seq_length=20,
        threads=1,
    )
    first = train_cell(config, tmp_path / "run")
    assert first.status == "done" and first.epochs_done == 1 and np.isfinite(first.median_nse)
    assert train_cell(config, tmp_path / "run").status == "skipped"
    assert train_cell(config, tmp_path / "run", force=True).status == "done"
