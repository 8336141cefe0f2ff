"""A tiny sweep and a small Optuna search through the real ``rvhpc run``, ``status``, ``submit
--dry-run --only-missing`` and ``collect``: trials as local workers, a killed trial tried again
(same settings, resumed, counted once), selection on validation."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from rvhpc.grid.study import trials_frame
from rvhpc.resources import profiles_dir
from tests.hpc._gridtools import PYTHON, SMOKE, rvhpc

TRAIN = {
    "hidden": 4,
    "seq_length": 30,
    "batch_size": 64,
    "epochs": 1,
    "lr_late_epoch": 5,
    "dropout": 0.0,
    "device": "cpu",
    "log_every": 1,
}


def grid_file(folder: Path, name: str, experiments: list, **train) -> Path:
    data = yaml.safe_load(SMOKE.read_text())
    data["name"], data["runs_dir"] = name, f"runs/{name}"
    data["data"]["store"] = f"runs/{name}/data/store.h5"
    data["data"]["synthetic"]["basins"] = 3
    data["data"]["eval_period"] = ["2000-03-01", "2001-06-30"]
    data["data"]["validation_period"] = ["2001-07-01", "2001-12-31"]
    data["train"] = {**TRAIN, **train}
    data["experiments"] = experiments
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def collect(grid: Path, out: Path) -> subprocess.CompletedProcess:
    return rvhpc("--quiet", "collect", grid, "--out", out, "--workers", "1", timeout=900)


def test_tiny_sweep_runs_and_collects_per_point(tmp_path: Path) -> None:
    exp = {"arch": "ea", "static": "physics", "seeds": [0, 1], "sweep": {"hidden": [2, 4]}}
    grid = grid_file(tmp_path, "tiny", [exp])
    proc = rvhpc("run", grid, "--jobs", "2", timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    assert "4 cells run, 0 already done, 0 failed" in proc.stdout
    status = json.loads(rvhpc("status", grid, "--json").stdout)
    assert status["counts"]["done"] == 4
    assert {c["experiment"] for c in status["cells"]} == {"EP/hidden=2", "EP/hidden=4"}
    res = collect(grid, tmp_path / "res")
    assert res.returncode == 0, res.stderr
    points = pd.read_csv(tmp_path / "res" / "points.csv")
    selection = pd.read_csv(tmp_path / "res" / "selection.csv")
    best = points.loc[points["val_ensemble_median_nse"].idxmax(), "experiment"]
    assert list(selection["chosen"]) == [best] and list(points["seeds"]) == [2, 2]
    # per point: a seed of one point missing is resubmitted alone
    lost = tmp_path / "runs" / "tiny" / "synthetic" / "ea" / "physics" / "hidden=4" / "seed1"
    (lost / "DONE").unlink()
    status = json.loads(rvhpc("status", grid, "--json").stdout)
    missing = [c for c in status["cells"] if c["state"] != "done"]
    assert [(c["experiment"], c["seed"]) for c in missing] == [("EP/hidden=4", 1)]
    dry = rvhpc(
        "submit", grid, "--profile", profiles_dir() / "local.yaml", "--dry-run", "--only-missing"
    )
    assert dry.returncode == 0 and "1 cells in 1 task(s)" in dry.stderr, dry.stdout + dry.stderr


def _kill_a_trial(run: subprocess.Popen, runs: Path, deadline: float) -> Path:
    """SIGKILL the process training the first trial that finished an epoch; its trial folder."""
    while time.monotonic() < deadline:
        for ckpt in sorted(runs.glob("**/trial=*/seed0/checkpoints/epoch_001.pt")):
            lock = ckpt.parent.parent / "train.lock"
            try:
                pid = json.loads(lock.read_text())["pid"]
            except (OSError, ValueError):
                continue
            os.kill(pid, signal.SIGKILL)
            return ckpt.parent.parent.parent
        assert run.poll() is None, "rvhpc run ended before a trial could be killed"
        time.sleep(0.05)
    raise AssertionError("no trial finished an epoch in time")


def test_search_with_two_workers_retries_a_killed_trial(tmp_path: Path) -> None:
    search = {
        "method": "optuna",
        "trials": 3,
        "seed": 11,
        "params": {"hidden": {"int": [2, 6]}, "dropout": {"float": [0.0, 0.5]}},
    }
    exp = {"arch": "ea", "static": "physics", "seeds": [0, 1], "search": search}
    grid = grid_file(tmp_path, "opt", [exp], epochs=5)
    runs = tmp_path / "runs" / "opt"
    run = subprocess.Popen(
        [PYTHON, "-m", "rvhpc", "run", str(grid), "--jobs", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        killed = _kill_a_trial(run, runs, time.monotonic() + 600)
        out, err = run.communicate(timeout=900)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
    assert run.returncode == 1 and "2 cell(s) failed" in err, out + err  # its 2 seeds
    study = killed.parent / "optuna.journal"
    trial = int(killed.name.partition("=")[2])
    before = trials_frame(study).set_index("trial")
    assert before.loc[trial, "state"] == "RUNNING"
    assert list(before["state"]).count("COMPLETE") == 2
    again = rvhpc("run", grid, "--jobs", "2", timeout=900)
    assert again.returncode == 0, again.stdout + again.stderr[-3000:]
    assert "2 cells run, 4 already done, 0 failed" in again.stdout
    after = trials_frame(study)
    # tried again with the same settings, resumed from its checkpoints, counted once
    assert list(after["state"]) == ["COMPLETE"] * 3 and sorted(after["trial"]) == [0, 1, 2]
    assert (
        after.set_index("trial").loc[trial, "optuna_number"] == before.loc[trial, "optuna_number"]
    )
    logs = "".join(p.read_text() for p in (runs / "logs" / "opt").glob("*.log"))
    assert f"trial={trial} (Optuna trial" in logs and "resuming" in logs
    config = json.loads((killed / "seed0" / "config.json").read_text())
    assert config["point"]["values"] == {
        "hidden": before.loc[trial, "param_hidden"],
        "dropout": before.loc[trial, "param_dropout"],
    }
    res = collect(grid, tmp_path / "res")
    assert res.returncode == 0, res.stderr
    trials = pd.read_csv(tmp_path / "res" / "trials.csv")
    assert list(trials["state"]) == ["COMPLETE"] * 3
    assert set(trials["sampler"]) == {"tpe"} and set(trials["sampler_seed"]) == {11}
    points = pd.read_csv(tmp_path / "res" / "points.csv").set_index("trial")
    told = trials.set_index("trial")["value"]
    # what each trial reported is what collect computes from its files
    assert (told - points["val_ensemble_median_nse"]).abs().max() < 1e-5
    selection = pd.read_csv(tmp_path / "res" / "selection.csv")
    assert list(selection["chosen"]) == [f"EP/trial={told.idxmax()}"]


@pytest.mark.slurm
def test_search_trials_are_slurm_array_tasks(tmp_path: Path, slurm_cluster) -> None:
    search = {"method": "optuna", "trials": 3, "params": {"hidden": {"int": [2, 6]}}}
    exp = {"arch": "ea", "static": "physics", "seeds": [0, 1], "search": search}
    grid = grid_file(tmp_path, "slurmopt", [exp])
    proc = rvhpc("submit", grid, "--profile", "local")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "6 cells of grid slurmopt as 3 task(s)" in proc.stderr  # a trial: one task
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        status = json.loads(rvhpc("status", grid, "--json").stdout)
        if status["counts"]["done"] == 6 or status["counts"]["failed"]:
            break
        time.sleep(3)
    assert status["counts"]["done"] == 6, json.dumps(status, indent=1)[-3000:]
    study = tmp_path / "runs" / "slurmopt" / "synthetic" / "ea" / "physics" / "optuna.journal"
    trials = trials_frame(study)
    assert list(trials["state"]) == ["COMPLETE"] * 3 and sorted(trials["trial"]) == [0, 1, 2]
    logs = list((tmp_path / "runs" / "slurmopt" / "logs" / "slurmopt").glob("slurmopt_*_*.log"))
    assert len(logs) == 3  # one array task per trial


def test_study_claims_on_a_real_journal(tmp_path: Path) -> None:
    """The claim protocol on one journal file: a new trial, the same trial again while it runs,
    nothing to do once complete or finally failed, an untagged orphan never counted."""
    from rvhpc.grid import study
    from rvhpc.grid.search import Param, space_json

    space = space_json([Param("hidden", "int", 2, 6), Param("dropout", "float", 0.0, 0.5)])
    record = {
        "study": str(tmp_path / "optuna.journal"),
        "trial": 0,
        "trials": 3,
        "sampler": "tpe",
        "seed": 5,
        "space": space,
    }
    first = study.claim(record)
    assert first.state == "new" and set(first.params) == {"hidden", "dropout"}
    again = study.claim(record)  # its task died: the same trial, the same settings
    assert (again.state, again.number, again.params) == ("resumed", first.number, first.params)
    assert study.claim(record, main=False).number == first.number
    study.report(record, first.number, 0.25)
    assert study.claim(record).state == "complete"
    # a trial asked but never tagged (its task died in between) is failed, never counted
    orphan = study.open_study(record).ask()
    second = study.claim({**record, "trial": 1})
    study.report({**record, "trial": 1}, second.number, float("nan"))
    assert study.claim({**record, "trial": 1}).state == "failed"  # NaN: final, not retried
    frame = trials_frame(Path(record["study"]))
    states = dict(zip(frame["optuna_number"], frame["state"], strict=True))
    assert states == {first.number: "COMPLETE", orphan.number: "FAIL", second.number: "FAIL"}
    assert list(frame["sampler_seed"]) == [5, 5, 5]
    with pytest.raises(Exception, match="made with another seed"):
        study.open_study({**record, "seed": 6})
    study.open_study({**record, "trials": 4})  # more trials extend the same study
