"""Tables from the per-basin metrics: summary, the paper's table, paired comparison vs a baseline."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy.stats import wilcoxon

from rvhpc.experiments import ARCHS

ARCH_TITLES = {"ea": "EA-LSTM", "ct": "CT-LSTM", "sr": "SR-LSTMEA", "fm": "FM-LSTM", "lstm": "LSTM"}
ID_COLUMNS = ["experiment", "arch", "static", "dim", "attr_seed", "member", "basin"]


def _ensemble(metrics: pd.DataFrame) -> pd.DataFrame:
    return metrics[metrics["member"] == "ensemble"]


def summary(metrics: pd.DataFrame, experiments: list[str]) -> pd.DataFrame:
    """Per experiment: ensemble median/mean NSE, single-seed median NSE (mean, std over seeds),
    basins with ensemble NSE < 0, seeds found, random draws ensembled (``draws``; 0 for
    experiments without random columns; the seeds' count for paired draws)."""
    rows = []
    for name in experiments:
        sub = metrics[metrics["experiment"] == name]
        first = sub.iloc[0]
        seeds = sub[sub["member"] != "ensemble"]
        per_seed = seeds.groupby("member")["NSE"].median()
        ens = _ensemble(sub)["NSE"]
        rows.append(
            {
                "experiment": name,
                "arch": first["arch"],
                "static": first["static"],
                "dim": first["dim"],
                "attr_seed": first["attr_seed"] if seeds["attr_seed"].nunique() <= 1 else pd.NA,
                "draws": int(seeds["attr_seed"].nunique()),
                "seeds": len(per_seed),
                "seed_list": ",".join(sorted(per_seed.index, key=int)),
                "basins": int(seeds["basin"].nunique()),
                "ensemble_median_nse": ens.median() if len(ens) else np.nan,
                "ensemble_mean_nse": ens.mean() if len(ens) else np.nan,
                "seed_median_nse_mean": per_seed.mean(),
                "seed_median_nse_std": per_seed.std(ddof=1) if len(per_seed) > 1 else np.nan,
                "basins_ensemble_nse_lt0": int((ens < 0).sum()) if len(ens) else pd.NA,
            }
        )
    return pd.DataFrame(rows)


def static_column(static: str, dim) -> str:
    return f"{static}-{int(dim)}" if pd.notna(dim) else static


def paper_table(summ: pd.DataFrame) -> pd.DataFrame:
    """Architectures x static vectors, ensemble median NSE (mean over attr_seeds when several)."""
    frame = summ.assign(column=[static_column(s, d) for s, d in zip(summ["static"], summ["dim"])])
    order = sorted(
        {
            (_static_rank(s), 0 if pd.isna(d) else int(d), c)
            for s, d, c in zip(frame["static"], frame["dim"], frame["column"])
        }
    )
    table = frame.pivot_table(
        index="arch", columns="column", values="ensemble_median_nse", aggfunc="mean", dropna=False
    )
    table = table.reindex(columns=[c for *_, c in order])
    table = table.reindex(
        [a for a in ARCHS if a in table.index] + [a for a in table.index if a not in ARCHS]
    )
    table.index = [ARCH_TITLES.get(a, a) for a in table.index]
    table.index.name = "architecture"
    return table


def _static_rank(kind: str) -> int:
    return (
        ["physics", "gaussian", "one_hot", "mixed", "none"].index(kind)
        if kind in ("physics", "gaussian", "one_hot", "mixed", "none")
        else 9
    )


def comparison(metrics: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Ensemble NSE of every experiment vs ``baseline``, paired per basin: median difference and
    the two-sided Wilcoxon signed-rank p-value."""
    ens = _ensemble(metrics).pivot_table(
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
    return pd.DataFrame(
        rows,
        columns=[
            "experiment",
            "baseline",
            "basins",
            "median_nse",
            "baseline_median_nse",
            "median_diff",
            "mean_diff",
            "better_fraction",
            "wilcoxon_stat",
            "p_value",
        ],
    )


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return "–"
    if isinstance(value, (float, np.floating)):
        return f"{value:.3f}"
    return str(value)


def to_markdown(frame: pd.DataFrame, index: bool = False) -> str:
    """A GitHub markdown table (floats with 3 decimals, missing as an en dash)."""
    if index:
        frame = frame.reset_index()
    head = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(_fmt(v) for v in row) + " |")
    return "\n".join(lines) + "\n"
