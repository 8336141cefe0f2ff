"""Issue 10, defect 9: every case of the list gets one clear ``error:`` line, never a traceback.

Bad config files (not UTF-8, duplicate keys, a broken period, ``.nan``), bad options, a file where
a folder is expected and the reverse, garbled run files, a garbled attempt log, read-only and full
output folders (tmpfs mounts), an absurd ``--dim`` and a store path under /proc.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import TINY_EVAL, TINY_TRAIN
from tests.hostile._b_support import (
    TINY,
    full_disk,
    one_line,
    prepare_args,
    read_only,
    rvhpc,
)
from tests.hpc._gridtools import write_grid

PERIODS = [
    "--train-start",
    TINY_TRAIN[0],
    "--train-end",
    TINY_TRAIN[1],
    "--eval-start",
    TINY_EVAL[0],
    "--eval-end",
    TINY_EVAL[1],
]


@pytest.fixture(scope="module")
def trained(tiny_store, tmp_path_factory) -> Path:
    """A finished 2-epoch run of the tiny store (read-only: tests copy it)."""
    out = tmp_path_factory.mktemp("b_trained") / "run"
    proc = rvhpc("train", "--store", tiny_store, "--out", out, "--epochs", 2, *TINY)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def _train_again(tiny_store, run: Path) -> list:
    return ["train", "--store", tiny_store, "--out", run, "--epochs", 2, *TINY]


# ------------------------------------------------------------------ config files and options


def test_grid_not_utf8(tmp_path: Path) -> None:
    grid = write_grid(tmp_path)
    grid.write_bytes(grid.read_bytes().replace(b"name: smoke", b"name: sm\xf6ke"))
    one_line(rvhpc("grid", "show", grid), str(grid), "not UTF-8", code=2)


def test_profile_not_utf8(tmp_path: Path) -> None:
    grid = write_grid(tmp_path)
    profile = tmp_path / "site.yaml"
    profile.write_bytes(b"partition: gp\xfcu\n")
    proc = rvhpc("submit", grid, "--profile", profile, "--dry-run")
    one_line(proc, "site.yaml", "not UTF-8", code=2)


@pytest.mark.parametrize("period", [["2000-13-01", "2002-09-30"], ["soon", "later"]])
def test_train_period_next_to_store(tmp_path: Path, tiny_store, period: list[str]) -> None:
    grid = tmp_path / "g.yaml"
    grid.write_text(
        f"name: g\ndata:\n  store: {tiny_store}\n  train_period: {period}\n"
        "runs_dir: runs\nexperiments:\n  - {arch: ea, static: physics}\n"
    )
    one_line(rvhpc("grid", "show", grid), "data.train_period", "YYYY-MM-DD", code=2)


def test_mem_gb_nan(tmp_path: Path) -> None:
    grid = write_grid(tmp_path)
    profile = tmp_path / "nan.yaml"
    profile.write_text("mem_gb: .nan\n")
    one_line(rvhpc("submit", grid, "--profile", profile, "--dry-run"), "mem_gb", code=2)


def test_empty_train_start(tmp_path: Path, tiny_camels) -> None:
    proc = rvhpc(*prepare_args(tiny_camels, tmp_path / "s.h5", "--train-start", ""))
    one_line(proc, "train period", "YYYY-MM-DD", code=2)
    assert not (tmp_path / "s.h5").exists()


# ------------------------------------------------------------------ files and folders swapped


def test_prepare_out_is_a_folder(tmp_path: Path, tiny_camels) -> None:
    folder = tmp_path / "stores"
    folder.mkdir()
    proc = rvhpc(*prepare_args(tiny_camels, folder, *PERIODS))
    one_line(proc, str(folder), "folder", code=2)
    assert list(folder.iterdir()) == []


def test_synth_onto_a_file(tmp_path: Path) -> None:
    target = tmp_path / "camels"
    target.write_text("mine\n")
    proc = rvhpc(
        "data", "synth", target, "--basins", 2, "--start", "2000-01-01", "--end", "2000-12-31"
    )
    one_line(proc, str(target))
    assert target.read_text() == "mine\n"


def test_train_out_is_a_file(tmp_path: Path, tiny_store) -> None:
    target = tmp_path / "run"
    target.write_text("mine\n")
    proc = rvhpc("train", "--store", tiny_store, "--out", target, "--epochs", 1, *TINY)
    one_line(proc, str(target), "file")
    assert target.read_text() == "mine\n"


# ------------------------------------------------------------------ garbled run files


def test_garbled_statics_refused_by_train_and_evaluate(tmp_path: Path, tiny_store, trained) -> None:
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    (run / "DONE").unlink()  # so that train does not skip the finished run
    garbage = b"PK\x03\x04 not really a zip"
    (run / "statics.npz").write_bytes(garbage)
    one_line(rvhpc(*_train_again(tiny_store, run)), "statics.npz", code=2)
    assert (run / "statics.npz").read_bytes() == garbage and not (run / "DONE").exists()
    one_line(rvhpc("evaluate", run, "--device", "cpu"), "statics.npz", code=2)


def test_foreign_statics_refused_by_train(tmp_path: Path, tiny_store, trained) -> None:
    import numpy as np

    run = tmp_path / "run"
    shutil.copytree(trained, run)
    (run / "DONE").unlink()
    with np.load(run / "statics.npz") as npz:
        data = dict(npz)
    data["values"] = data["values"] + 1.0
    np.savez(run / "statics.npz", **data)
    one_line(rvhpc(*_train_again(tiny_store, run)), "statics.npz", "other static vectors", code=2)
    assert not (run / "DONE").exists()


def test_garbled_losses_refused(tmp_path: Path, tiny_store, trained) -> None:
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    (run / "DONE").unlink()
    (run / "checkpoints" / "epoch_002.pt").unlink()  # epoch 2 is trained again: losses appended
    (run / "losses.csv").write_bytes(b"epoch,train_loss,lr,seconds\n\xff\xfe,garbage\n")
    one_line(rvhpc(*_train_again(tiny_store, run)), "losses.csv", code=2)
    assert not (run / "DONE").exists()


def test_attempt_log_with_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    from rvhpc.grid.expand import load_grid

    grid_file = write_grid(tmp_path)
    grid = load_grid(grid_file)
    attempts = grid.state_dir / "attempts" / f"{grid.cells[0].id}.jsonl"
    attempts.parent.mkdir(parents=True)
    attempts.write_bytes(
        b'{"event": "start", "index": 0, "host": "h\xe9", "pid": 1}\n\xff\xfe\x00garbage\n[1, 2]\n'
    )
    proc = rvhpc("status", grid_file, "--json")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    import json

    assert json.loads(proc.stdout)["cells"][0]["state"] == "missing"


# ------------------------------------------------------------------ read-only and full disks


def _commands(kind: str, folder: Path, tiny_camels, tiny_store, trained) -> list:
    basin = tiny_camels.basins[0]
    return {
        "prepare": prepare_args(tiny_camels, folder / "s.h5", *PERIODS),
        "synth": ["data", "synth", folder / "camels", "--basins", 2, "--start", "2000-01-01"],
        "train": ["train", "--store", tiny_store, "--out", folder / "run", "--epochs", 1, *TINY],
        "evaluate": ["evaluate", trained, "--out", folder / "ev", "--device", "cpu"],
        "collect": ["collect", trained, "--out", folder / "col", "--workers", 1],
        "show --csv": ["data", "show", tiny_store, "--basin", basin, "--csv", folder / "x.csv"],
    }[kind]


KINDS = ["prepare", "synth", "train", "evaluate", "collect", "show --csv"]


@pytest.mark.parametrize("kind", KINDS)
def test_read_only_output_folder(tmp_path: Path, kind, tiny_camels, tiny_store, trained) -> None:
    with read_only(tmp_path / "ro") as folder:
        proc = rvhpc(*_commands(kind, folder, tiny_camels, tiny_store, trained))
        one_line(proc, str(folder))
        assert list(folder.iterdir()) == []


@pytest.mark.parametrize("kind", KINDS)
def test_full_disk(tmp_path: Path, kind, tiny_camels, tiny_store, trained) -> None:
    with full_disk(tmp_path / "full") as folder:
        proc = rvhpc(*_commands(kind, folder, tiny_camels, tiny_store, trained))
        # prepare knows the store's size: it refuses up front; the others hit the full disk
        one_line(proc, str(folder), "are free on" if kind == "prepare" else "no space left")
        # nothing half-written is left under its final name
        for done in ("s.h5", "run/DONE", "ev/metrics.csv", "col/summary.csv", "x.csv"):
            assert not (folder / done).exists(), done
        assert not list(folder.rglob(".*.tmp")), list(folder.rglob("*"))


# ------------------------------------------------------------------ sizes and paths


def test_absurd_dim_refused_up_front(tmp_path: Path, tiny_store) -> None:
    out = tmp_path / "run"
    proc = rvhpc(
        "train",
        "--store",
        tiny_store,
        "--out",
        out,
        "--static",
        "gaussian",
        "--dim",
        100000000,
        *TINY,
    )
    one_line(proc, "--dim", "GB of memory", code=2)
    assert not out.exists()


def test_store_under_proc_does_not_hang(tiny_camels) -> None:
    proc = rvhpc(*prepare_args(tiny_camels, "/proc/x.h5", *PERIODS), timeout=120)
    one_line(proc, "/proc/x.h5.lock", code=2)


@pytest.mark.parametrize(
    "content", [b"\xff\xfe{}", b"[1, 2]", b'{"format": 1, "cells": [{"index": 0}]}']
)
def test_garbled_manifest(tmp_path: Path, content: bytes) -> None:
    manifest = tmp_path / "m.json"
    manifest.write_bytes(content)
    one_line(rvhpc("cell", manifest, "--index", 0), str(manifest), "manifest", code=2)


def test_config_json_not_utf8(tmp_path: Path, tiny_store, trained) -> None:
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    (run / "config.json").write_bytes(b'{"arch": "\xe9a"}')
    one_line(rvhpc(*_train_again(tiny_store, run)), "config.json", code=2)
