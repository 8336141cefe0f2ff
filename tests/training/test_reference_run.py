"""``rvhpc evaluate --reference-run``: original run directories scored exactly, or refused."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd
import pytest
import torch

from rvhpc.data.sampler import WindowSampler
from rvhpc.data.scalers import original_input_stats, original_output_stats
from rvhpc.data.statics import build_statics
from rvhpc.data.store import open_store
from rvhpc.errors import ConfigError
from rvhpc.evaluation.original import evaluate_reference_run
from rvhpc.models import build_model, to_reference
from tests.training.original_run import (
    hand_static_input,
    original_cfg,
    original_table,
    write_original_run,
)
from tests.training.trainhelp import rvhpc

SEQ = 30


@torch.no_grad()
def forward_pass(model, store_path: Path, statics: np.ndarray | None) -> np.ndarray:
    """qsim [basins, eval days] of ``model`` with the original's scalers and the given statics."""
    train = open_store(store_path, period="train")
    x_mean, x_std = original_input_stats(train)
    y_mean, y_std = original_output_stats(train)
    store = open_store(store_path, period="eval", warmup=SEQ - 1)
    store.x_mean, store.x_std = x_mean, x_std
    sampler = WindowSampler(store, seq_length=SEQ)
    days = sampler.eval_days()
    model.eval()
    out = []
    for i in range(len(store.basins)):
        x_d = sampler.windows(np.full(len(days), i), days)
        x_s = None
        if statics is not None:
            x_s = torch.from_numpy(np.repeat(statics[i : i + 1], len(days), 0).astype(np.float32))
        out.append(model(x_d, x_s).reshape(-1).numpy().astype(np.float64) * y_std + y_mean)
    return np.maximum(np.stack(out), 0.0)


def _run(tmp_path, tiny_camels, tiny_store, kind, arch, d=None, attr_seed=None):
    basins = open_store(tiny_store).basins
    table = None if kind == "none" else original_table(tiny_camels.root, basins, kind, d, attr_seed)
    hand = None if table is None else hand_static_input(table, kind)
    n_static = 0 if hand is None else hand.shape[1]
    run_dir = tmp_path / "orig" / f"{arch}-{kind}"
    model = write_original_run(
        run_dir, table, original_cfg(kind, arch, d, attr_seed, SEQ), arch, n_static
    )
    return run_dir, model, (None if hand is None else hand.loc[basins].to_numpy(np.float32))


@pytest.mark.parametrize(
    "kind, arch, d, attr_seed",
    [
        ("physics", "ea", None, None),
        ("gaussian", "ct", 6, 4242),
        ("mixed", "sr", 30, 7),
        ("one_hot", "fm", None, None),
        ("none", "lstm", None, None),
    ],
)
def test_reference_run_equals_a_forward_pass_with_the_originals_static_input(
    tmp_path, tiny_camels, tiny_store, kind, arch, d, attr_seed
):
    run_dir, model, statics = _run(tmp_path, tiny_camels, tiny_store, kind, arch, d, attr_seed)
    record = evaluate_reference_run(run_dir, tiny_store, tmp_path / "ev", device="cpu")
    assert record["epoch"] == 2 and record["arch"] == arch and record["static"] == kind
    pred = pd.read_parquet(tmp_path / "ev" / "predictions.parquet")
    expected = forward_pass(model, tiny_store, statics)
    np.testing.assert_allclose(pred["qsim"].to_numpy(), expected.reshape(-1), rtol=1e-6, atol=1e-6)
    assert record["output_scaler"]["kind"] == "original"
    if kind in ("gaussian", "mixed"):
        assert any("equal rvhpc's draw" in n for n in record["notes"]), record["notes"]
    if kind in ("physics", "mixed"):
        # the descriptors come in attributes.db's order, not rvhpc's: its own vectors differ
        ours = build_statics(kind, open_store(tiny_store), dim=d, attr_seed=attr_seed or 0)
        assert record["static_columns"][:27] != ours.names[:27]
        other = forward_pass(model, tiny_store, ours.values)
        assert np.abs(other.reshape(-1) - pred["qsim"].to_numpy()).max() > 1e-3


def test_cli_states_the_scalers_and_scores_an_earlier_epoch(tmp_path, tiny_camels, tiny_store):
    run_dir, _, statics = _run(tmp_path, tiny_camels, tiny_store, "physics", "ea")
    proc = rvhpc(
        "evaluate", "--reference-run", run_dir, "--store", tiny_store, "--epoch", 1,
        "--out", tmp_path / "ev", "--device", "cpu",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    mean, std = original_output_stats(open_store(tiny_store, period="train"))
    assert f"output scaler: the original code's (mean {mean:.6g}, std {std:.6g}" in proc.stdout
    assert "input scaler: the original code's" in proc.stdout
    record = json.loads((tmp_path / "ev" / "evaluation.json").read_text())
    assert record["epoch"] == 1 and record["weights"].endswith("model_epoch1.pt")
    torch.manual_seed(1)
    epoch1 = torch.load(run_dir / "model_epoch1.pt", weights_only=True)
    from rvhpc.models import from_reference

    expected = forward_pass(from_reference(epoch1, "ea"), tiny_store, statics)
    pred = pd.read_parquet(tmp_path / "ev" / "predictions.parquet")
    np.testing.assert_allclose(pred["qsim"].to_numpy(), expected.reshape(-1), rtol=1e-6, atol=1e-6)


def _edit_cfg(run_dir: Path, **changes) -> None:
    cfg = json.loads((run_dir / "cfg.json").read_text())
    for key, value in changes.items():
        if value is None:
            cfg.pop(key)
        else:
            cfg[key] = value
    (run_dir / "cfg.json").write_text(json.dumps(cfg))


def _sql(run_dir: Path, statement: str) -> None:
    with sqlite3.connect(run_dir / "attributes.db") as conn:
        conn.execute(statement)


BROKEN = {
    "no cfg.json": (lambda r: (r / "cfg.json").unlink(), "no cfg.json"),
    "cfg.json lacks a flag": (lambda r: _edit_cfg(r, mixed=None), "cfg.json lacks mixed"),
    "cfg.json odd dates": (lambda r: _edit_cfg(r, train_start="2000-10-01"), "DDMMYYYY"),
    "other training period": (lambda r: _edit_cfg(r, train_start="01101999"), "training period"),
    "no attributes.db": (lambda r: (r / "attributes.db").unlink(), "no attributes.db"),
    "no table": (
        lambda r: _sql(r, "ALTER TABLE basin_attributes RENAME TO other"),
        "no readable table basin_attributes",
    ),
    "no weights": (
        lambda r: [p.unlink() for p in r.glob("model_epoch*.pt")],
        "no model_epoch<N>.pt",
    ),
    "a missing value": (
        lambda r: _sql(r, "UPDATE basin_attributes SET p_mean = NULL WHERE rowid = 2"),
        "'p_mean' is missing for basin",
    ),
    "other basins": (
        lambda r: _sql(r, "DELETE FROM basin_attributes WHERE rowid = 1"),
        "the original standardised over the run's basin list",
    ),
    "width differs from rand_feat_num": (
        lambda r: _edit_cfg(r, rand_feat_num=40, mixed=True),
        "rand_feat_num 40",
    ),
    "a pickle beyond tensors (weights_only)": (
        lambda r: torch.save({"lstm.bias": PurePosixPath("/etc")}, r / "model_epoch3.pt"),
        "model_epoch3.pt is not a readable torch state dict",
    ),
    "one_hot flag on a descriptor table": (
        lambda r: _edit_cfg(r, one_hot=True),
        "rows of attributes.db are not one-hot",
    ),
    "weights of another width": (
        lambda r: torch.save(
            to_reference(build_model("ea", 5, 5, hidden=8), prefix="module."),
            r / "model_epoch3.pt",
        ),
        "takes 5 static inputs",
    ),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_what_cannot_be_rebuilt_exactly_is_one_line(tmp_path, tiny_camels, tiny_store, case):
    run_dir, _, _ = _run(tmp_path, tiny_camels, tiny_store, "physics", "ea")
    breaker, message = BROKEN[case]
    breaker(run_dir)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")) as exc:
        evaluate_reference_run(run_dir, tiny_store, tmp_path / "ev", device="cpu")
    assert "\n" not in str(exc.value)
    assert not (tmp_path / "ev" / "predictions.parquet").exists()


def test_cli_refusals_are_one_line(tmp_path, tiny_camels, tiny_store):
    run_dir, _, _ = _run(tmp_path, tiny_camels, tiny_store, "physics", "ea")
    (run_dir / "attributes.db").unlink()
    proc = rvhpc(
        "evaluate", "--reference-run", run_dir, "--store", tiny_store, "--out", tmp_path / "ev"
    )
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "no attributes.db" in proc.stderr
    for static in ("physics", "mixed"):
        proc = rvhpc(
            "evaluate", "--reference-weights", run_dir / "model_epoch2.pt", "--store", tiny_store,
            "--arch", "ea", "--static", static, *(["--dim", "30"] if static == "mixed" else []),
            "--out", tmp_path / "ev",
        )  # fmt: skip
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
        assert f"static {static!r}" in proc.stderr and "--reference-run" in proc.stderr
    proc = rvhpc(
        "evaluate", "--reference-weights", run_dir / "model_epoch2.pt", "--store", tiny_store,
        "--arch", "ea", "--static", "gaussian", "--dim", "4", "--out", tmp_path / "ev",
    )  # fmt: skip
    assert proc.returncode == 2 and "needs --attr-seed" in proc.stderr, proc.stderr
    assert not (tmp_path / "ev").exists()


def test_reference_weights_gaussian_is_exact_with_the_runs_attr_seed(
    tmp_path, tiny_camels, tiny_store
):
    run_dir, model, statics = _run(tmp_path, tiny_camels, tiny_store, "gaussian", "ea", 6, 99)
    proc = rvhpc(
        "evaluate", "--reference-weights", run_dir / "model_epoch2.pt", "--store", tiny_store,
        "--arch", "ea", "--static", "gaussian", "--dim", 6, "--attr-seed", 99,
        "--seq-length", SEQ, "--out", tmp_path / "ev", "--device", "cpu",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "output scaler: the original code's" in proc.stdout
    pred = pd.read_parquet(tmp_path / "ev" / "predictions.parquet")
    expected = forward_pass(model, tiny_store, statics)
    np.testing.assert_allclose(pred["qsim"].to_numpy(), expected.reshape(-1), rtol=1e-6, atol=1e-6)
