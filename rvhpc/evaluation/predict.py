"""Evaluation: predict every day of the evaluation period for every basin and score each basin.

Windows of many basins share a batch (one pass over a flat list of (basin, day) rows, not one
loader per basin), on the given device. This module predicts in one process; under DDP training
splits the basins across ranks (:func:`rvhpc.training.distributed.predict_store`) and rank 0
writes one result.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from rvhpc import progress
from rvhpc.atomic import atomic_path
from rvhpc.evaluation.metrics import METRIC_NAMES, all_metrics
from rvhpc.runfiles import METRICS_CSV, PREDICTIONS

#: windows per forward pass in evaluation (memory of the recurrences grows with B * T * H)
EVAL_BATCH = 512


@torch.no_grad()
def predict_basins(
    model: nn.Module,
    sampler: Any,
    statics: torch.Tensor | None,
    basins: list[int],
    device: torch.device,
    batch_size: int = EVAL_BATCH,
    log_every: int = 50,
    show: bool = True,
    stop: Callable[[], bool] | None = None,
) -> np.ndarray | None:
    """Standardised predictions [len(basins), n_eval_days] for the given basin indices.

    Returns None when ``stop()`` became true between two batches.
    """
    days = np.asarray(sampler.eval_days(), dtype=np.int64)
    out = np.empty((len(basins), len(days)), dtype=np.float32)
    if not basins:
        return out
    rows_b = np.repeat(np.asarray(basins, dtype=np.int64), len(days))
    rows_d = np.tile(days, len(basins))
    was_training = model.training
    model.eval()
    flat = out.reshape(-1)
    n_batches = -(-len(rows_b) // batch_size)
    with progress.task("evaluation", n_batches, log_every, show=show) as bar:
        for start in range(0, len(rows_b), batch_size):
            if stop is not None and stop():
                model.train(was_training)
                return None
            b = rows_b[start : start + batch_size]
            x_d = sampler.windows(b, rows_d[start : start + batch_size]).to(
                device, non_blocking=True
            )
            x_s = None if statics is None else statics[torch.from_numpy(b).to(statics.device)]
            flat[start : start + len(b)] = model(x_d, x_s).reshape(-1).float().cpu().numpy()
            bar.advance(1)
    model.train(was_training)
    return out


def results_frames(
    store: Any, sampler: Any, pred_std: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """predictions (basin, date, qobs, qsim mm/day >= 0) and per-basin metrics from standardised
    output."""
    days = np.asarray(sampler.eval_days(), dtype=np.int64)
    qsim = np.maximum(pred_std.astype(np.float64) * float(store.y_std) + float(store.y_mean), 0.0)
    qobs = np.asarray(store.qobs[np.ix_(store.row_index(), days)], dtype=np.float64)
    n_basins, n_days = qsim.shape
    dates = pd.DatetimeIndex(store.dates[days]).astype("datetime64[ns]")
    predictions = pd.DataFrame(
        {
            "basin": pd.Series(
                np.repeat(np.asarray(store.basins, dtype=object), n_days), dtype=str
            ),
            "date": np.tile(dates.to_numpy(), n_basins),
            "qobs": qobs.reshape(-1),
            "qsim": qsim.reshape(-1),
        }
    )
    rows = [{"basin": b, **all_metrics(qobs[i], qsim[i])} for i, b in enumerate(store.basins)]
    metrics = pd.DataFrame(rows, columns=["basin", *METRIC_NAMES])
    return predictions, metrics


def write_results(out_dir: Path, predictions: pd.DataFrame, metrics: pd.DataFrame) -> None:
    """predictions.parquet and metrics.csv, each atomically."""
    out_dir = Path(out_dir)
    with atomic_path(out_dir / PREDICTIONS) as tmp:
        predictions.to_parquet(tmp, index=False)
    with atomic_path(out_dir / METRICS_CSV) as tmp:
        metrics.to_csv(tmp, index=False, float_format="%.6g")


def read_metrics(path: Path) -> pd.DataFrame:
    """metrics.csv with basin ids kept as strings (leading zeros)."""
    return pd.read_csv(path, dtype={"basin": str})


def score_model(
    model: torch.nn.Module,
    store: Any,
    seq_length: int,
    statics: np.ndarray | None,
    device: torch.device,
    out: Path,
) -> float:
    """Predict and score every basin of ``store``'s evaluation period into ``out``
    (predictions.parquet, metrics.csv); returns the median NSE (NaN when no basin has one)."""
    from rvhpc.data.sampler import WindowSampler

    sampler = WindowSampler(store, seq_length=seq_length)
    x_s = None if statics is None else torch.from_numpy(np.asarray(statics, np.float32)).to(device)
    pred = predict_basins(model.to(device), sampler, x_s, list(range(len(store.basins))), device)
    predictions, metrics = results_frames(store, sampler, pred)
    write_results(out, predictions, metrics)
    median = float(np.nanmedian(metrics["NSE"])) if metrics["NSE"].notna().any() else float("nan")
    progress.log(f"{out}: median NSE {median:.4f} over {len(metrics)} basins")
    return median
