"""Choosing among sweep points and search trials on the validation period, never on test.

A *family* is an experiment without its point: the same arch, static kind, dim, draw and
scenario, swept (or searched) over the rest. Per family, the point with the best validation
ensemble median NSE wins; its *test* scores go into the paper table, and ``selection.csv`` says
which point won and by how much. Without validation predictions collect refuses to choose (one
line) rather than choose on test.

Outputs: ``val_metrics.parquet`` (metrics.parquet's layout over the validation period),
``points.csv`` (every point: validation and test medians, seeds ensembled and alone),
``selection.csv``, ``trials.csv`` (every trial of every study, with its state, value, settings,
sampler and seed) and ``val_nse_vs_setting.png``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from rvhpc.collect.discover import Cell
from rvhpc.collect.experiment import Experiment
from rvhpc.errors import CollectError
from rvhpc.runfiles import VAL_PREDICTIONS


def families(groups: dict[Experiment, list[Cell]]) -> dict[Experiment, list[Experiment]]:
    """Families that hold at least one point, each with its experiments in order."""
    out: dict[Experiment, list[Experiment]] = {}
    for exp in groups:
        out.setdefault(exp.family, []).append(exp)
    return {fam: exps for fam, exps in out.items() if any(e.point for e in exps)}


def check_validation(groups: dict[Experiment, list[Cell]]) -> None:
    """CollectError (one line) when a family with points has a cell without validation
    predictions: collect never chooses on test.

    Raises
    ------
    CollectError
        Naming the family, one cell, and what to do.
    """
    for fam, exps in families(groups).items():
        bare = [c for e in exps for c in groups[e] if not c.has_validation]
        if bare:
            raise CollectError(
                f"experiment family {fam.name}: {len(exps)} sweep points or trials, but "
                f"{bare[0].label} has no {VAL_PREDICTIONS} (no validation period): collect "
                "refuses to choose on test; set data.validation_period in the grid and rerun "
                "the cells"
            )


def validation_groups(groups: dict[Experiment, list[Cell]]) -> dict[Experiment, list[Cell]]:
    """The cells of every experiment whose cells all hold validation predictions, pointed at
    those files (for :func:`rvhpc.collect.dispatch.compute_all`)."""
    return {
        exp: [replace(c, file=VAL_PREDICTIONS) for c in cells]
        for exp, cells in groups.items()
        if cells and all(c.has_validation for c in cells)
    }


def _medians(metrics: pd.DataFrame) -> pd.DataFrame:
    """Per experiment: ensemble median NSE and the mean over seeds of each seed's median."""
    ens = metrics[metrics["member"] == "ensemble"].groupby("experiment", sort=False)["NSE"]
    seeds = metrics[metrics["member"] != "ensemble"]
    per_seed = seeds.groupby(["experiment", "member"], sort=False)["NSE"].median()
    return pd.DataFrame(
        {
            "ensemble_median_nse": ens.median(),
            "seed_median_nse_mean": per_seed.groupby(level=0, sort=False).mean(),
            "seeds": per_seed.groupby(level=0, sort=False).size(),
        }
    )


def points_table(
    groups: dict[Experiment, list[Cell]], metrics: pd.DataFrame, val_metrics: pd.DataFrame
) -> pd.DataFrame:
    """One row per point of every family with points (see the module docstring)."""
    test, val = _medians(metrics), _medians(val_metrics)
    rows = []
    for fam, exps in families(groups).items():
        for exp in exps:
            rows.append(
                {
                    "family": fam.name,
                    "experiment": exp.name,
                    "point": exp.point,
                    "seeds": test["seeds"].get(exp.name, 0),
                    "val_ensemble_median_nse": val["ensemble_median_nse"].get(exp.name, np.nan),
                    "val_seed_median_nse_mean": val["seed_median_nse_mean"].get(exp.name, np.nan),
                    "test_ensemble_median_nse": test["ensemble_median_nse"].get(exp.name, np.nan),
                    "test_seed_median_nse_mean": test["seed_median_nse_mean"].get(exp.name, np.nan),
                    **dict(exp.point_values),
                }
            )
    return pd.DataFrame(rows)


def select(points: pd.DataFrame) -> pd.DataFrame:
    """Per family the point with the best validation ensemble median NSE (the first of equals),
    its margin over the runner-up and its test scores; ``points`` gains a ``chosen`` column."""
    rows = []
    points["chosen"] = False
    for family, block in points.groupby("family", sort=False):
        scored = block.dropna(subset=["val_ensemble_median_nse"])
        if scored.empty:
            continue
        ranked = scored.sort_values("val_ensemble_median_nse", ascending=False, kind="stable")
        best = ranked.iloc[0]
        second = ranked.iloc[1] if len(ranked) > 1 else None
        points.loc[best.name, "chosen"] = True
        rows.append(
            {
                "family": family,
                "points": len(block),
                "scored": len(scored),
                "chosen": best["experiment"],
                "chosen_point": best["point"],
                "val_ensemble_median_nse": best["val_ensemble_median_nse"],
                "runner_up": None if second is None else second["point"],
                "runner_up_val_ensemble_median_nse": (
                    np.nan if second is None else second["val_ensemble_median_nse"]
                ),
                "margin": (
                    np.nan
                    if second is None
                    else best["val_ensemble_median_nse"] - second["val_ensemble_median_nse"]
                ),
                "test_ensemble_median_nse": best["test_ensemble_median_nse"],
                "test_seed_median_nse_mean": best["test_seed_median_nse_mean"],
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "family",
            "points",
            "scored",
            "chosen",
            "chosen_point",
            "val_ensemble_median_nse",
            "runner_up",
            "runner_up_val_ensemble_median_nse",
            "margin",
            "test_ensemble_median_nse",
            "test_seed_median_nse_mean",
        ],
    )


def paper_names(groups: dict[Experiment, list[Cell]], chosen: list[str]) -> set[str]:
    """The experiments of the paper table: those without points, and each family's winner."""
    swept = {e for exps in families(groups).values() for e in exps}
    return {e.name for e in groups if e not in swept} | set(chosen)


def trials_table(studies: list[Path], root: Path) -> pd.DataFrame:
    """Every trial of every study journal (``rvhpc.grid.study.trials_frame``), with the study's
    folder relative to ``root``."""
    from rvhpc.grid.study import trials_frame

    parts = []
    for path in studies:
        if not path.is_file():
            continue
        frame = trials_frame(path)
        where = path.parent.relative_to(root) if path.is_relative_to(root) else path.parent
        parts.append(frame.assign(study=str(where)))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def figure(points: pd.DataFrame, out: Path) -> Path | None:
    """Validation ensemble median NSE against each swept or searched setting, one panel per
    setting, one colour per family; the chosen points starred."""
    from rvhpc.collect.figures import _plt, _save

    fixed = {
        "family",
        "experiment",
        "point",
        "seeds",
        "chosen",
        "trial",
        "val_ensemble_median_nse",
        "val_seed_median_nse_mean",
        "test_ensemble_median_nse",
        "test_seed_median_nse_mean",
    }
    keys = [c for c in points.columns if c not in fixed and points[c].notna().any()]
    if not keys:
        return None
    fig, axes = _plt().subplots(1, len(keys), figsize=(4.2 * len(keys), 3.6), squeeze=False)
    colours = {f: f"C{i % 10}" for i, f in enumerate(dict.fromkeys(points["family"]))}
    for ax, key in zip(axes[0], keys, strict=True):
        for family, block in points.dropna(subset=[key]).groupby("family", sort=False):
            numeric = pd.api.types.is_numeric_dtype(block[key])
            x = block[key] if numeric else block[key].astype(str)
            y = block["val_ensemble_median_nse"]
            ax.scatter(x, y, s=22, color=colours[family])
            best = block["chosen"].to_numpy(bool)
            ax.scatter(x[best], y[best], marker="*", s=180, color=colours[family], ec="black")
        values = pd.to_numeric(points[key], errors="coerce").dropna()
        if len(values) and values.min() > 0 and values.max() / values.min() >= 20:
            ax.set_xscale("log")
        ax.set_xlabel(key)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("validation ensemble median NSE")
    handles = [
        _plt().Line2D([], [], marker="o", ls="", color=c, label=f) for f, c in colours.items()
    ]
    fig.legend(handles=handles, loc="upper right", fontsize=7)
    fig.suptitle("validation NSE per setting (star: the point chosen)")
    return _save(fig, Path(out) / "val_nse_vs_setting.png")


def write_selection(
    groups: dict[Experiment, list[Cell]],
    metrics: pd.DataFrame,
    val_metrics: pd.DataFrame | None,
    studies: list[Path],
    root: Path,
    out: Path,
) -> tuple[list[Path], set[str] | None]:
    """val_metrics.parquet, points.csv, selection.csv, trials.csv and the figure, as far as
    there is anything to write; returns the files and the paper table's experiments (None: all
    of them, the grid has no points)."""
    from rvhpc.atomic import atomic_path

    files: list[Path] = []

    def csv(frame: pd.DataFrame, name: str) -> None:
        with atomic_path(out / name) as tmp:
            frame.to_csv(tmp, index=False, float_format="%.6g")
        files.append(out / name)

    if val_metrics is not None:
        with atomic_path(out / "val_metrics.parquet") as tmp:
            val_metrics.to_parquet(tmp, index=False)
        files.append(out / "val_metrics.parquet")
    chosen = None
    if families(groups):
        assert val_metrics is not None  # check_validation ran first
        points = points_table(groups, metrics, val_metrics)
        picked = select(points)
        csv(points, "points.csv")
        csv(picked, "selection.csv")
        chosen = paper_names(groups, list(picked["chosen"]))
        path = figure(points, out)
        files += [path] if path is not None else []
    trials = trials_table(studies, root)
    if len(trials):
        csv(trials, "trials.csv")
    return files, chosen
