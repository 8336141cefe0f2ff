"""A validation period and early stopping, through the real ``rvhpc train`` on the tiny store:
the validation metrics beside the test metrics, the best epoch kept, and a kill and resume that
continues the same patience count."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from rvhpc.runrecords import run_is_done
from tests.training.trainhelp import assert_same_predictions, cli_env, rvhpc, train_args

#: outside the tiny store's training (2000-10..2002-09) and evaluation (1999-01..2000-09) periods
VAL = ("2002-10-01", "2003-09-30")
EPOCHS = 8
#: a learning rate high enough that the validation score peaks early and falls (patience 1): it
#: peaks at epoch 2 and stops after epoch 3, so a kill in epoch 3 must carry the best epoch over
EARLY = ["--lr", "0.1", "--val-start", *VAL[:1], "--val-end", VAL[1], "--patience", "1"]


def es_args(store: Path, out: Path) -> list[object]:
    return train_args(store, out, *EARLY, epochs=EPOCHS)


@pytest.fixture(scope="module")
def stopped(tiny_store, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("early") / "run"
    proc = rvhpc(*es_args(tiny_store, out))
    assert proc.returncode == 0, proc.stderr
    return out


def test_early_stopping_keeps_the_best_validation_epoch(stopped: Path) -> None:
    record = json.loads((stopped / "early_stopping.json").read_text())
    history = [(h["epoch"], h["val_nse"]) for h in record["history"]]
    best = max(history, key=lambda h: (h[1], -h[0]))  # the first of equals
    assert record["chosen_epoch"] == best[0] and record["chosen_val_nse"] == best[1]
    last = history[-1][0]
    assert record["stopped_after_epoch"] == last == best[0] + record["patience"] < EPOCHS
    # no epoch trained after the stop
    checkpoints = sorted(p.name for p in (stopped / "checkpoints").glob("epoch_*.pt"))
    assert checkpoints == [f"epoch_{e:03d}.pt" for e in range(1, last + 1)]
    assert len(pd.read_csv(stopped / "losses.csv")) == last
    # the results are the chosen epoch's weights: rescoring that checkpoint gives the same file
    proc = rvhpc("evaluate", stopped, "--epoch", record["chosen_epoch"], "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    rescored = stopped / "evaluation" / f"epoch_{record['chosen_epoch']:03d}"
    assert_same_predictions(rescored, stopped)
    done = json.loads((stopped / "DONE").read_text())
    assert done["chosen_epoch"] == record["chosen_epoch"]
    assert done["val_median_nse"] == record["chosen_val_nse"]
    assert run_is_done(stopped, verify=True)


def test_validation_metrics_sit_beside_the_test_metrics(stopped: Path) -> None:
    val = pd.read_parquet(stopped / "val_predictions.parquet")
    assert val["date"].min() == pd.Timestamp(VAL[0]) and val["date"].max() == pd.Timestamp(VAL[1])
    metrics = pd.read_csv(stopped / "val_metrics.csv", dtype={"basin": str})
    test = pd.read_csv(stopped / "metrics.csv", dtype={"basin": str})
    assert list(metrics.columns) == list(test.columns) and len(metrics) == len(test) == 4
    # DONE vouches for the validation predictions too: a changed file is not done
    (stopped / "val_predictions.parquet").write_bytes(b"x")
    try:
        assert not run_is_done(stopped)
    finally:
        val.to_parquet(stopped / "val_predictions.parquet", index=False)
    assert run_is_done(stopped)


def assert_same_validation(run_a: Path, run_b: Path) -> None:
    assert (run_a / "early_stopping.json").read_text() == (
        run_b / "early_stopping.json"
    ).read_text()
    assert_same_predictions(run_a, run_b)
    pd.testing.assert_frame_equal(
        pd.read_parquet(run_a / "val_predictions.parquet"),
        pd.read_parquet(run_b / "val_predictions.parquet"),
        check_exact=True,
    )


@pytest.mark.parametrize(
    ("signum", "when", "code"),
    [
        # killed after epoch 2 was scored and checkpointed with its count
        (signal.SIGKILL, "epoch 3/", -signal.SIGKILL),
        # Slurm's signal inside epoch 3: the mid-epoch checkpoint carries the count
        (signal.SIGTERM, f"epoch 3/{EPOCHS}: 1/", 75),
    ],
)
def test_early_stopping_survives_a_kill_and_resume(
    tiny_store, stopped, tmp_path, signum, when, code
) -> None:
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "rvhpc", *map(str, es_args(tiny_store, out))],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(),
    )
    deadline = time.monotonic() + 300
    try:
        for line in proc.stderr:
            if when in line:
                proc.send_signal(signum)
                break
            assert time.monotonic() < deadline, "training did not reach epoch 3"
        proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == code and not (out / "DONE").exists()
    assert (out / "checkpoints" / "epoch_002.pt").exists()
    assert not (out / "checkpoints" / "epoch_003.pt").exists(), "the signal came too late"
    again = rvhpc(*es_args(tiny_store, out))
    assert again.returncode == 0, again.stderr
    assert "resuming" in again.stderr
    # the same count, the same stop, the same chosen epoch and the same results
    assert_same_validation(out, stopped)


def test_packed_seeds_each_stop_as_they_would_alone(tiny_store, stopped, tmp_path) -> None:
    pack, alone = tmp_path / "pack", tmp_path / "alone"
    proc = rvhpc(*es_args(tiny_store, pack), "--seeds", "0,1")
    assert proc.returncode == 0, proc.stderr
    proc = rvhpc(*es_args(tiny_store, alone), "--seed", "1")
    assert proc.returncode == 0, proc.stderr
    assert_same_validation(pack / "seed0", stopped)
    assert_same_validation(pack / "seed1", alone)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--patience", "2"], "early_stopping: needs a validation period"),
        (["--val-start", "2002-01-01", "--val-end", "2002-12-31"], "shares"),
        (["--val-start", "2002-10-01"], "give both days"),
        (["--val-start", "2003-06-01", "--val-end", "2004-06-30"], "outside the stored days"),
    ],
)
def test_bad_validation_period_is_one_line(tiny_store, tmp_path, extra, expected) -> None:
    out = tmp_path / "run"
    proc = rvhpc(*train_args(tiny_store, out, *extra, epochs=1))
    assert proc.returncode == 2, proc.stderr
    assert expected in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert not out.exists() or not any(out.iterdir())  # refused before anything was written


def test_prepare_refuses_an_overlapping_validation_period(tiny_camels, tmp_path) -> None:
    proc = rvhpc(
        "data", "prepare", "--camels-root", tiny_camels.root, "--basins", tiny_camels.basin_file,
        "--out", tmp_path / "store.h5", "--train-start", "2000-10-01", "--train-end",
        "2002-09-30", "--eval-start", "1999-01-01", "--eval-end", "2000-09-30",
        "--val-start", "2000-06-01", "--val-end", "2000-12-31",
    )  # fmt: skip
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "shares 92 days with the training period" in proc.stderr
    assert not (tmp_path / "store.h5").exists()
