"""Scoring with the original code's scalers: an original run directory
(``rvhpc evaluate --reference-run DIR``, read by :mod:`rvhpc.evaluation.reference`) or a state dict
it saved (``rvhpc evaluate --reference-weights FILE``).

Inputs and outputs are scaled with the original's ``calculate_mean_and_std`` over the store's
training period (:mod:`rvhpc.data.scalers`), recomputed because the original kept them in its code
folder, not in the run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rvhpc.atomic import write_json
from rvhpc.data.footprint import check_memory
from rvhpc.errors import ConfigError
from rvhpc.evaluation.predict import score_model
from rvhpc.evaluation.reference import read_reference_run
from rvhpc.evaluation.reference_files import ATTRIBUTES_DB
from rvhpc.experiments import check_cell
from rvhpc.jobenv import JobEnv, resolve_device
from rvhpc.runfiles import EVALUATION_JSON


def original_scalers(store_path: Path, train_period: tuple | None, where: str) -> dict[str, Any]:
    """The original's input and output scalers over the store's training period; ``train_period``
    (the run's, when known) must be the store's."""
    from rvhpc.data.scalers import original_input_stats, original_output_stats
    from rvhpc.data.store import open_store

    train = open_store(store_path, period="train")
    if train_period is not None and tuple(pd.Timestamp(d) for d in train_period) != tuple(
        train.train_period
    ):
        raise ConfigError(
            f"{where}: the run trained on {train_period[0].date()}..{train_period[1].date()} but "
            f"{store_path} has the training period {train.train_period[0].date()}.."
            f"{train.train_period[1].date()}; the original's scalers come from the run's period: "
            "prepare a store with it (rvhpc data prepare --train-start --train-end)"
        )
    x_mean, x_std = original_input_stats(train)
    y_mean, y_std = original_output_stats(train)
    return {
        "basins": list(train.basins),
        "input": {"kind": "original", "mean": x_mean.tolist(), "std": x_std.tolist()},
        "output": {"kind": "original", "mean": y_mean, "std": y_std},
        "period": [str(train.train_period[0].date()), str(train.train_period[1].date())],
    }


def score_with_scalers(
    model: Any, store_path: Path, seq_length: int, statics: np.ndarray | None,
    scalers: dict[str, Any], device: str, out: Path,
) -> float:  # fmt: skip
    """Predict and score the store's evaluation period with the given (original) scalers."""
    from rvhpc.data.scalers import use_output_stats
    from rvhpc.data.store import open_store

    store = open_store(store_path, period="eval", warmup=seq_length - 1)
    store.x_mean = np.asarray(scalers["input"]["mean"], dtype=np.float64)
    store.x_std = np.asarray(scalers["input"]["std"], dtype=np.float64)
    use_output_stats(store, (scalers["output"]["mean"], scalers["output"]["std"]))
    return score_model(model, store, seq_length, statics, resolve_device(device, JobEnv()), out)


def evaluate_reference_run(
    run_dir: Path, store_path: Path, out: Path, epoch: int | None = None, device: str = "auto"
) -> dict[str, Any]:
    """Score an original run directory on the store's evaluation period, exactly as it trained.

    Returns the record written to ``out/evaluation.json`` (what was used: weights, static columns,
    scalers, notes).

    Raises
    ------
    ConfigError
        One line for anything rvhpc cannot rebuild exactly (see :func:`read_reference_run`), a
        store with other basins or another training period than the run, or weights that do not
        fit the static table.
    """
    from rvhpc.models import load_reference_file

    run = read_reference_run(run_dir, epoch)
    where = f"--reference-run {run.path}"
    scalers = original_scalers(store_path, run.train_period, where)
    basins = scalers.pop("basins")
    statics = None
    if run.table is not None:
        if set(run.table.index) != set(basins) or len(run.table) != len(basins):
            extra = sorted(set(basins) ^ set(run.table.index))
            raise ConfigError(
                f"{where}: {store_path} holds {len(basins)} basins, {ATTRIBUTES_DB} "
                f"{len(run.table)} ({len(extra)} differ, e.g. "
                f"{extra[0] if extra else 'duplicates'}); "
                "the original standardised over the run's basin list: prepare a store from it"
            )
        statics = np.array(run.table.loc[basins].to_numpy(np.float32))  # writable
    model = load_reference_file(run.weights, run.arch, n_dynamic=len(scalers["input"]["mean"]))
    n_static = getattr(model, "n_static", 0)
    width = 0 if statics is None else statics.shape[1]
    if n_static != width:
        raise ConfigError(
            f"{where}: {run.weights.name} takes {n_static} static inputs but {ATTRIBUTES_DB} "
            f"gives {width} columns"
        )
    median = score_with_scalers(model, store_path, run.seq_length, statics, scalers, device, out)
    record = {
        "reference_run": str(run.path),
        "weights": str(run.weights),
        "epoch": run.epoch,
        "store": str(store_path),
        "arch": run.arch,
        "static": run.static,
        "dim": run.dim,
        "attr_seed": run.attr_seed,
        "static_columns": [] if run.table is None else [str(c) for c in run.table.columns],
        "seq_length": run.seq_length,
        "input_scaler": scalers["input"],
        "output_scaler": scalers["output"],
        "scaler_period": scalers["period"],
        "notes": run.notes,
        "median_nse": median,
    }
    write_json(Path(out) / EVALUATION_JSON, record)
    return record


def describe_scalers(record: dict[str, Any]) -> list[str]:
    """Lines stating the scalers a reference evaluation used (printed by the CLI)."""
    out, period = record["output_scaler"], record["scaler_period"]
    return [
        f"output scaler: the original code's (mean {out['mean']:.6g}, std {out['std']:.6g} mm/day, "
        f"every day of {period[0]}..{period[1]}, missing days as -999 cfs)",
        f"input scaler: the original code's (pandas mean/std over every day of {period[0]}.."
        f"{period[1]})",
    ]


#: static kinds whose vectors rvhpc rebuilds exactly without the run's attributes.db, given the
#: run's basin list in its order (and, for gaussian, its attri_rand_seed)
REBUILDABLE = ("gaussian", "one_hot", "none")


def evaluate_reference(
    weights: Path,
    store_path: Path,
    arch: str,
    static: str,
    out: Path,
    dim: int | None = None,
    attr_seed: int | None = None,
    seq_length: int = 270,
    device: str = "auto",
) -> dict:
    """Score a state dict saved by the original code on a store, rebuilding its static vectors.

    Only kinds rvhpc rebuilds exactly are accepted (:data:`REBUILDABLE`): physics and mixed vectors
    hold the descriptors in the order the original's file system listed them, recorded only in the
    run's ``attributes.db`` (use ``--reference-run``). Inputs and outputs are scaled with the
    original's scalers (:func:`original_scalers`). Returns the record
    written to ``out/evaluation.json``.
    """
    from rvhpc.data.statics import build_statics
    from rvhpc.data.store import open_store
    from rvhpc.models import load_reference_file

    check_cell(arch, static, dim)
    if static not in REBUILDABLE:
        raise ConfigError(
            f"--reference-weights with static {static!r}: the original's descriptor columns come "
            "in the order its file system listed camels_*.txt, recorded only in the run's "
            "attributes.db; use --reference-run RUN_DIR (the original run directory) instead"
        )
    if static == "gaussian" and attr_seed is None:
        raise ConfigError(
            "--reference-weights with static 'gaussian' needs --attr-seed: the run's "
            "attri_rand_seed (in its cfg.json); or use --reference-run RUN_DIR"
        )
    if seq_length < 1:
        raise ConfigError(f"--seq-length must be >= 1, got {seq_length}")
    whole = open_store(store_path)
    model = load_reference_file(weights, arch, n_dynamic=whole.n_inputs)
    scalers = original_scalers(store_path, None, f"--reference-weights {weights}")
    scalers.pop("basins")
    check_memory(static, dim, whole, hidden=0)  # the vectors; the model exists
    statics = build_statics(static, whole, dim=dim, attr_seed=attr_seed or 0)
    n_static = getattr(model, "n_static", statics.dim)
    if n_static != statics.dim:
        raise ConfigError(
            f"{weights}: the model takes {n_static} static inputs but static {static!r}"
            f"{f' --dim {dim}' if dim else ''} gives {statics.dim} on {store_path}"
        )
    median = score_with_scalers(model, store_path, seq_length, statics.values, scalers, device, out)
    record = {
        "reference_weights": str(weights),
        "store": str(store_path),
        "arch": arch,
        "static": static,
        "dim": dim,
        "attr_seed": attr_seed,
        "seq_length": seq_length,
        "input_scaler": scalers["input"],
        "output_scaler": scalers["output"],
        "scaler_period": scalers["period"],
        "notes": [
            "static vectors rebuilt for the store's basins in the store's order: exact only when "
            "the store was prepared from the run's basin list"
        ],
        "median_nse": median,
    }
    write_json(Path(out) / EVALUATION_JSON, record)
    return record
