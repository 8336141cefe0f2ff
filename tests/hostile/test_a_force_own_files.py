"""Defect 6: ``train --force`` removed the whole checkpoints/ folder, unrelated files included, and
without --force a run overwrote a metrics.csv it had not written. --force now removes only the
run's own files (RUN_FILES and checkpoint names), and results of unknown origin are refused."""

from __future__ import annotations

import pytest

from tests.hostile.a_help import copy_run, one_line, train_once
from tests.training.trainhelp import rvhpc, train_args


def test_force_keeps_files_it_did_not_write(tiny_store, tmp_path_factory, tmp_path):
    run = copy_run(train_once(tiny_store, tmp_path_factory), tmp_path / "run")
    (run / "checkpoints" / "notes.txt").write_text("mine\n")
    (run / "checkpoints" / "best_model.pt").write_bytes(b"my own model")
    (run / "README").write_text("mine too\n")
    (run / "checkpoints" / "epoch_007.pt").write_bytes(b"stale checkpoint of this run")
    proc = rvhpc(*train_args(tiny_store, run, "--force", epochs=1))
    assert proc.returncode == 0, proc.stderr
    assert (run / "checkpoints" / "notes.txt").read_text() == "mine\n"
    assert (run / "checkpoints" / "best_model.pt").read_bytes() == b"my own model"
    assert (run / "README").read_text() == "mine too\n"
    assert not (run / "checkpoints" / "epoch_007.pt").exists(), "its own names are removed"
    assert (run / "checkpoints" / "epoch_001.pt").exists() and (run / "DONE").exists()


@pytest.mark.parametrize(
    "name", ["metrics.csv", "predictions.parquet", "DONE", "losses.csv", "checkpoints/epoch_001.pt"]
)
def test_results_of_unknown_origin_refused(tiny_store, tmp_path, name):
    out = tmp_path / "run"
    target = out / name
    target.parent.mkdir(parents=True)
    target.write_text("someone else's\n")
    proc = rvhpc(*train_args(tiny_store, out, epochs=1))
    one_line(proc, 2, name, "no config.json", "--force")
    assert target.read_text() == "someone else's\n"
    assert not (out / "config.json").exists()
