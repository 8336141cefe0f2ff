"""The paired comparison of every experiment's seed ensemble with a baseline's (``EP``, or
``EP@<scenario>`` within each scenario): per-basin NSE differences and the two-sided Wilcoxon
signed-rank test (comparison.csv)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy.stats import wilcoxon

from rvhpc.collect.report import ensemble_rows

COMPARISON_COLUMNS = [
    "experiment", "baseline", "basins", "median_nse", "baseline_median_nse", "median_diff",
    "mean_diff", "better_fraction", "wilcoxon_stat", "p_value",
]  # fmt: skip


def comparison(metrics: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Ensemble NSE of every experiment vs ``baseline``, paired per basin: median difference and
    the two-sided Wilcoxon signed-rank p-value.

    Parameters
    ----------
    metrics : pd.DataFrame
        Per-basin metrics of members and ensembles (metrics.parquet).
    baseline : str
        An experiment name with ensemble rows in ``metrics``.

    Returns
    -------
    pd.DataFrame
        One row per other experiment, :data:`COMPARISON_COLUMNS`; basins either side lacks are
        left out of its pairs, and the test is NaN where every difference is 0.
    """
    ens = ensemble_rows(metrics).pivot_table(
        index="basin", columns="experiment", values="NSE", aggfunc="first"
    )
    base = ens[baseline]
    rows = []
    for name in [n for n in dict.fromkeys(metrics["experiment"]) if n in ens.columns]:
        if name == baseline:
            continue
        pair = pd.concat([ens[name], base], axis=1, keys=["x", "b"]).dropna()
        diff = (pair["x"] - pair["b"]).to_numpy()
        stat = p = np.nan
        if len(diff) and np.any(diff != 0):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    res = wilcoxon(diff)
                    stat, p = float(res.statistic), float(res.pvalue)
                except ValueError:
                    pass
        rows.append(
            {
                "experiment": name,
                "baseline": baseline,
                "basins": len(diff),
                "median_nse": pair["x"].median(),
                "baseline_median_nse": pair["b"].median(),
                "median_diff": np.median(diff) if len(diff) else np.nan,
                "mean_diff": diff.mean() if len(diff) else np.nan,
                "better_fraction": float(np.mean(diff > 0)) if len(diff) else np.nan,
                "wilcoxon_stat": stat,
                "p_value": p,
            }
        )
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


def scenario_comparison(metrics: pd.DataFrame, baselines: list[str]) -> pd.DataFrame:
    """:func:`comparison` within each scenario against its baseline (``EP@<scenario>``).

    Parameters
    ----------
    metrics : pd.DataFrame
        Per-basin metrics of members and ensembles (metrics.parquet).
    baselines : list[str]
        One baseline per scenario; those without ensemble rows are left out.

    Returns
    -------
    pd.DataFrame
        The scenarios' comparisons, one after the other.
    """
    scen = metrics["experiment"].str.partition("@")[2]
    parts = [
        comparison(metrics[scen == base.partition("@")[2]], base)
        for base in baselines
        if base in set(metrics.loc[metrics["member"] == "ensemble", "experiment"])
    ]
    return pd.concat(parts, ignore_index=True)
