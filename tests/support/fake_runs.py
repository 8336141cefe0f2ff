"""Run directories in the training contract's exact format with generated hydrographs.

Used by the tests, the benchmark and the README example: ``config.json``, ``predictions.parquet``
(basin str, date datetime64[ns], qobs/qsim float64 mm/day), ``metrics.csv`` and ``DONE``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from scipy.signal import lfilter

from rvhpc.atomic import atomic_path, write_text
from rvhpc.evaluation.metrics import METRIC_NAMES, all_metrics
from rvhpc.experiments import experiment_name, run_subdir
from rvhpc.runfiles import CONFIG_JSON, METRICS_CSV, PREDICTIONS
from rvhpc.runrecords import run_is_done, write_done


def hydrographs(
    rng: np.random.Generator, n_basins: int, n_days: int, missing: float = 0.02
) -> np.ndarray:
    """Observed-like discharge [n_basins, n_days] (mm/day): gamma rain through a linear reservoir,
    with a seasonal cycle and ``missing`` NaN gaps."""
    season = 1 + 0.6 * np.sin(2 * np.pi * np.arange(n_days) / 365.25)
    rain = (
        rng.gamma(0.4, 6.0, (n_basins, n_days)) * (rng.random((n_basins, n_days)) < 0.35) * season
    )
    k = rng.uniform(0.6, 0.95, n_basins)
    q = np.vstack(
        [lfilter([1 - kb], [1, -kb], r) for kb, r in zip(k, rain, strict=False)]
    ) + rng.uniform(0.05, 0.5, (n_basins, 1))
    q[rng.random(q.shape) < missing] = np.nan
    return q


def simulate(rng: np.random.Generator, qobs: np.ndarray, skill: float = 1.0) -> np.ndarray:
    """A model-like qsim >= 0: biased, smoothed, noisy; larger ``skill`` = better fit."""
    filled = np.where(np.isfinite(qobs), qobs, np.nanmean(qobs, axis=1, keepdims=True))
    bias = rng.normal(1.0, 0.15 / skill, (qobs.shape[0], 1))
    sigma = rng.uniform(0.2, 0.8, (qobs.shape[0], 1)) / skill
    noise = np.exp(rng.normal(0, 1, qobs.shape) * sigma - sigma**2 / 2)
    sim = lfilter([0.7], [1, -0.3], filled, axis=1) * bias * noise
    return np.maximum(sim, 0.0)


def write_cell(
    run_dir: Path,
    arch: str,
    static: str,
    dim: int | None,
    attr_seed: int | None,
    seed: int,
    basins: list[str],
    dates: pd.DatetimeIndex,
    qobs: np.ndarray,
    qsim: np.ndarray,
    done: bool = True,
    metrics: bool = True,
    config: dict | None = None,
) -> Path:
    """Write one run directory (``qobs``/``qsim`` are [n_basins, n_days]); DONE last, when
    ``done``. ``config``: the full training config to record (a grid cell's ``config``, as
    training writes it), else a minimal one."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    config = {
        "arch": arch,
        "static": static,
        "dim": dim,
        "attr_seed": attr_seed,
        "seed": seed,
        "experiment": experiment_name(arch, static, dim),
        "epochs": 20,
        "hidden": 256,
        **(config or {}),
    }
    write_text(run_dir / CONFIG_JSON, json.dumps(config, indent=2, sort_keys=True) + "\n")
    n_basins, n_days = qobs.shape
    codes = pa.array(np.repeat(np.arange(n_basins, dtype=np.int32), n_days))
    table = pa.table(
        {
            "basin": pa.DictionaryArray.from_arrays(codes, pa.array(basins)).cast(pa.string()),
            "date": pa.array(np.tile(dates.to_numpy().astype("datetime64[ns]"), n_basins)),
            "qobs": qobs.astype(np.float64).ravel(),
            "qsim": qsim.astype(np.float64).ravel(),
        }
    )
    with atomic_path(run_dir / PREDICTIONS) as tmp:
        pq.write_table(table, tmp)
    if metrics:
        rows = [{"basin": b, **all_metrics(qobs[i], qsim[i])} for i, b in enumerate(basins)]
        with atomic_path(run_dir / METRICS_CSV) as tmp:
            pd.DataFrame(rows, columns=["basin", *METRIC_NAMES]).to_csv(tmp, index=False)
    if done:
        write_done(run_dir)
    return run_dir


def paper_experiments(n: int) -> list[tuple[str, str, int | None, int | None]]:
    """The first ``n`` experiments of a paper-like grid (EP, EO, EG-d, EM-d, CP, ..., LSTM)."""
    dims = [8, 16, 32, 64, 128, 256, 512]
    exps: list[tuple[str, str, int | None, int | None]] = [
        ("ea", "physics", None, None),
        ("ea", "one_hot", None, None),
    ]
    exps += [("ea", "gaussian", d, 0) for d in dims] + [("ea", "mixed", d, 0) for d in dims[2:]]
    for arch in ("ct", "fm"):
        exps += [(arch, "physics", None, None), (arch, "one_hot", None, None)] + [
            (arch, "gaussian", d, 0) for d in dims
        ]
    exps += [("sr", "physics", None, None), ("sr", "gaussian", 27, 0), ("lstm", "none", None, None)]
    exps += [("ea", "gaussian", d, 1) for d in dims] + [("ct", "gaussian", d, 1) for d in dims]
    if n > len(exps):
        raise ValueError(f"at most {len(exps)} experiments")
    return exps[:n]


def synth_runs(
    runs_dir: Path,
    n_experiments: int,
    seeds: int,
    n_basins: int,
    n_years: float,
    seed: int = 0,
    metrics: bool = True,
    on_cell=None,
) -> list[Path]:
    """A runs dir of ``n_experiments x seeds`` finished cells; cells already DONE are kept."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("1989-10-01", periods=int(round(n_years * 365.25)), freq="D")
    basins = [f"{1013500 + 7 * i:08d}" for i in range(n_basins)]
    qobs = hydrographs(rng, n_basins, len(dates))
    dirs = []
    for e, (arch, static, dim, attr_seed) in enumerate(paper_experiments(n_experiments)):
        skill = 0.8 + 0.8 * ((e * 7919) % 13) / 13
        for s in range(1, seeds + 1):
            run_dir = Path(runs_dir) / run_subdir("synthetic", arch, static, dim, attr_seed, s)
            if not run_is_done(run_dir):
                cell_rng = np.random.default_rng([seed, e, s])
                write_cell(
                    run_dir,
                    arch,
                    static,
                    dim,
                    attr_seed,
                    s,
                    basins,
                    dates,
                    qobs,
                    simulate(cell_rng, qobs, skill),
                    metrics=metrics,
                )
            dirs.append(run_dir)
            if on_cell is not None:
                on_cell(run_dir)
    return dirs


def mark_done(run_dir: Path) -> Path:
    """A run that is done as far as grid, status and submit can tell: stand-in predictions and a
    DONE that vouches for them (collect would refuse to read them)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / PREDICTIONS).write_bytes(b"stand-in predictions")
    write_done(run_dir)
    return run_dir
