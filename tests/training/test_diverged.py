"""A run that diverges says so (issue 19, item 2): ``train --lr 1e30`` writes DIVERGED, not DONE,
exits with EXIT_DIVERGED and one error line; a rerun of the same settings reports the earlier
divergence at once; other settings with --force train it. Predictions that are NaN where the
inputs are complete are a divergence too; NaN where the inputs have a gap is the data's."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np

from rvhpc.exitcodes import EXIT_DIVERGED
from rvhpc.runfiles import CHECKPOINT_DIR, DIVERGED, DONE, PREDICTIONS
from tests.training.trainhelp import rvhpc, train_args


def _errors(proc) -> list[str]:
    assert "Traceback" not in proc.stderr, proc.stderr
    return [line for line in proc.stderr.splitlines() if line.startswith("error:")]


def test_lr_1e30_diverges_without_done(tiny_store, tmp_path) -> None:
    out = tmp_path / "run"
    proc = rvhpc(*train_args(tiny_store, out, "--lr", "1e30"))
    assert proc.returncode == EXIT_DIVERGED, proc.stderr
    (line,) = _errors(proc)
    assert f"{out}: diverged at epoch 1 (training loss nan)" in line and "--lr" in line
    assert not (out / DONE).exists() and not (out / PREDICTIONS).exists()
    assert json.loads((out / DIVERGED).read_text()) == {"epoch": 1, "reason": "training loss nan"}
    assert not list((out / CHECKPOINT_DIR).glob("*.pt"))  # NaN weights are not checkpointed
    assert (out / "losses.csv").read_text().splitlines()[1].startswith("1,nan,")
    # the same settings: the earlier divergence, at once (no epoch is trained)
    again = rvhpc(*train_args(tiny_store, out, "--lr", "1e30"))
    assert again.returncode == EXIT_DIVERGED and "epoch 1/2" not in again.stderr
    assert "diverged at epoch 1" in _errors(again)[0]
    # other settings: another run in this folder; --force replaces it
    other = rvhpc(*train_args(tiny_store, out))
    assert other.returncode == 2 and "lr 1e+30 -> 0.001" in _errors(other)[0]
    fixed = rvhpc(*train_args(tiny_store, out, "--force", epochs=1))
    assert fixed.returncode == 0, fixed.stderr
    assert (out / DONE).is_file() and not (out / DIVERGED).exists()


def test_nan_predictions_are_a_divergence_unless_the_inputs_have_a_gap(tiny_store) -> None:
    from rvhpc.data.sampler import WindowSampler
    from rvhpc.data.store import open_store
    from rvhpc.training.finish import _nonfinite

    store = open_store(tiny_store, period="eval", warmup=29)
    sampler = WindowSampler(store, seq_length=30)
    days = sampler.eval_days()
    pred = np.zeros((len(store.basins), len(days)), np.float32)
    assert _nonfinite(pred, sampler) is None
    pred[1, 5] = np.nan
    assert _nonfinite(pred, sampler) == f"non-finite predictions for 1 of {len(pred)} basins"
    # the same NaN under an input gap inside that day's window: the data's NaN, kept
    forcing = store.forcing.copy()
    forcing[1, days[5] - 3, 0] = np.nan
    gappy = WindowSampler(replace(store, forcing=forcing), seq_length=30)
    assert _nonfinite(pred, gappy) is None
    pred[1, 5], pred[2, 7] = 0.0, np.inf
    assert _nonfinite(pred, gappy) == f"non-finite predictions for 1 of {len(pred)} basins"
