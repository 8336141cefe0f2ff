"""Issue 19, items 8, 10 and 11: numbers out of range, seeds out of numpy's range, booleans and
fractions where integers are meant. Each is refused with one short line naming the key (and the
limit), before anything is allocated: ``hidden: 1e9`` once tried to allocate gigabytes under
``--estimate``, ``epochs: 1e15`` printed 82 billion device-hours, ``last_years: 100000`` said
"year -97997 is out of range", a negative fold seed ended in a numpy traceback, and
``folds: 2.0, seed: true`` became ``kfold2-s1``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from annotated_types import Ge, Gt, Le, Lt

from rvhpc.training.config import TrainConfig
from tests.hostile._c_support import bounded, refused
from tests.hpc._gridtools import write_grid


def _grid(tmp_path: Path, edit) -> Path:
    grid = write_grid(tmp_path)
    data = yaml.safe_load(grid.read_text())
    edit(data)
    grid.write_text(yaml.safe_dump(data, sort_keys=False))
    return grid


def _exp(**keys):
    """Edit: the first experiment gets ``keys`` (scenario keys: train_periods, evaluation)."""
    return lambda d: d["experiments"][0].update(keys)


def _train(**keys):
    return lambda d: d["train"].update(keys)


def test_every_numeric_training_key_has_both_bounds() -> None:
    """A new numeric TrainConfig field without an upper bound fails here (docs/limits.md)."""
    for name, info in TrainConfig.model_fields.items():
        kind = info.annotation
        if kind not in (int, float) and "int" not in str(kind):
            continue
        meta = info.metadata
        assert any(isinstance(m, Ge | Gt) for m in meta), f"{name} has no lower bound"
        assert any(isinstance(m, Le | Lt) for m in meta), f"{name} has no upper bound"


HUGE = {
    "hidden 1e9": (_train(hidden=10**9), "hidden", "4096"),
    "batch_size 1e8": (_train(batch_size=10**8), "batch_size", "65536"),
    "seq_length 1e9": (_train(seq_length=10**9), "seq_length", "3660"),
    "epochs 1e15 (a YAML float)": (_train(epochs=1e15), "epochs", "10000"),
    "lr_late_epoch 1e12": (_train(lr_late_epoch=10**12), "lr_late_epoch", "10000"),
    "lr 1e31": (_train(lr=1e31), "lr", "1000000000000000000000000000000"),
    "clip_norm 1e300": (_train(clip_norm=1e300), "clip_norm", "1000000"),
    "forget bias -1e9": (_train(initial_forget_bias=-1e9), "initial_forget_bias", "-100"),
    "log_every 1e12": (_train(log_every=10**12), "log_every", "1000000"),
    "threads 1e6": (_train(threads=10**6), "threads", "4096"),
    "dims [1e12]": (
        lambda d: d["experiments"][1].update(dims=[10**12]),
        "dims.0",
        "100000000",
    ),
    "synthetic basins 1e7": (
        lambda d: d["data"]["synthetic"].update(basins=10**7),
        "basins",
        "100000",
    ),
    "a grid of 1e10 cells": (
        lambda d: d["experiments"][1].update(dims=list(range(1, 2001)), seeds=list(range(2000))),
        "expands to",
        "50,000",
    ),
    "1000 periods x 1000 folds": (
        _exp(
            train_periods=[{"last_years": 1}] * 1000,
            evaluation={"scheme": "kfold", "folds": 1000, "seed": 0},
        ),
        "scenarios",
        "50,000",
    ),
    "a date beyond pandas": (
        lambda d: d["data"].update(eval_period=["1999-01-01", "9999-12-31"]),
        "eval_period",
        "2261-12-31",
    ),
}


@pytest.mark.parametrize("case", list(HUGE))
def test_huge_values_refused_under_estimate(tmp_path: Path, case: str) -> None:
    edit, *needles = HUGE[case]
    run = bounded("grid", "show", _grid(tmp_path, edit), "--estimate", timeout=120)
    refused(run, *needles)


def test_a_shape_that_does_not_fit_is_refused_before_measuring(tmp_path: Path) -> None:
    grid = _grid(tmp_path, _train(hidden=4096, batch_size=65536, seq_length=3660))
    refused(bounded("grid", "show", grid, "--estimate", timeout=120), "GB", "--rates")
    run = bounded("bench", "--hidden", 10**9, "--batch-size", 256, "--device", "cpu", timeout=120)
    refused(run, "GB")


SEEDS = {
    "negative fold seed": (
        _exp(evaluation={"scheme": "kfold", "folds": 2, "seed": -1}),
        "evaluation.seed",
    ),
    "fold seed 2**32": (
        _exp(evaluation={"scheme": "kfold", "folds": 2, "seed": 2**32}),
        "evaluation.seed",
    ),
    "init seed 1e20": (_exp(seeds=[10**20]), "seeds.0"),
    "init seed -1": (_exp(seeds=[-1]), "seeds.0"),
    "attr seed -5": (lambda d: d["experiments"][1].update(attr_seeds=[-5]), "attr_seeds.0"),
    "synthetic seed -1": (lambda d: d["data"]["synthetic"].update(seed=-1), "synthetic.seed"),
    "last_years 100000": (_exp(train_periods=[{"last_years": 100000}]), "last_years"),
    "last_years longer than the period": (
        _exp(train_periods=[{"last_years": 150}]),
        "longer than data.train_period",
    ),
}


@pytest.mark.parametrize("case", list(SEEDS))
def test_seeds_and_years_out_of_range_refused(tmp_path: Path, case: str) -> None:
    edit, needle = SEEDS[case]
    refused(bounded("grid", "show", _grid(tmp_path, edit)), needle)


def test_seed_options_out_of_range_refused(tmp_path: Path, tiny_camels) -> None:
    lists = tiny_camels.basin_file
    run = bounded("data", "subset", lists, "--n", 2, "--seed", -1, "--out", tmp_path / "s.txt")
    refused(run, "--seed", "4294967295")
    run = bounded("data", "synth", tmp_path / "syn", "--basins", 2, "--seed", -1)
    refused(run, "--seed", "4294967295")
    assert not (tmp_path / "syn").exists() or not any((tmp_path / "syn").iterdir())
    for seed_args, limit in (
        (["--seed", 10**20], "less than 4294967296"),
        (["--seeds", f"0,{10**20}"], "less than 4294967296"),
        (["--attr-seed", -1], "greater than or equal to 0"),
    ):
        run = bounded("train", "--store", tmp_path / "none.h5", "--out", tmp_path / "r", *seed_args)
        refused(run, "seed", limit)
    assert not (tmp_path / "r").exists()


BOOLS = {
    "last_years: true": (_exp(train_periods=[{"last_years": True}]), "last_years"),
    "folds: true": (_exp(evaluation={"scheme": "kfold", "folds": True}), "folds"),
    "fold seed: true": (
        _exp(evaluation={"scheme": "kfold", "folds": 2, "seed": True}),
        "evaluation.seed",
    ),
    "folds: 2.5": (_exp(evaluation={"scheme": "kfold", "folds": 2.5}), "folds"),
    "dims: [8.5]": (lambda d: d["experiments"][1].update(dims=[8.5]), "dims.0"),
    "synthetic basins: 5.5": (lambda d: d["data"]["synthetic"].update(basins=5.5), "basins"),
    "n_basins: true": (lambda d: d["data"].update(n_basins=True), "n_basins"),
    "hidden: 8.5": (_train(hidden=8.5), "hidden"),
    "dropout: true": (_train(dropout=True), "dropout"),
}


@pytest.mark.parametrize("case", list(BOOLS))
def test_booleans_and_fractions_are_not_integers(tmp_path: Path, case: str) -> None:
    edit, needle = BOOLS[case]
    refused(bounded("grid", "show", _grid(tmp_path, edit)), needle)


def test_whole_floats_are_integers(tmp_path: Path) -> None:
    """``folds: 2.0`` is 2 (not refused, and labelled kfold2), as any whole number."""
    grid = _grid(tmp_path, _exp(evaluation={"scheme": "kfold", "folds": 2.0, "seed": 3}))
    run = bounded("grid", "show", grid, "--json")
    assert run.returncode == 0, run.stderr
    dirs = {c["run_dir"].split("/runs/smoke/")[1] for c in json.loads(run.stdout)["cells"]}
    assert any(d.startswith("synthetic/kfold2-s3/fold1/") for d in dirs), dirs


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("cpus_per_task: 2.5\n", "cpus_per_task"),
        ("max_requeues: true\n", "max_requeues"),
        ("dask: {cores: true}\n", "dask.cores"),
        ("signal_seconds: 1.5\n", "signal_seconds"),
    ],
)
def test_profile_booleans_and_fractions(tmp_path: Path, text: str, field: str) -> None:
    profile = tmp_path / "site.yaml"
    profile.write_text(text)
    run = bounded("submit", write_grid(tmp_path), "--profile", profile, "--dry-run")
    refused(run, "site.yaml", field)
