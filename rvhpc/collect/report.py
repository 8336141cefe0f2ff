"""Tables from the per-basin metrics: the summary, the paper's table (one block per scenario),
and their markdown (the paired comparison vs a baseline is in comparison.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd

#: the architectures in the paper's order, with their titles (tables and figures follow it)
ARCH_TITLES = {"ea": "EA-LSTM", "ct": "CT-LSTM", "sr": "SR-LSTMEA", "fm": "FM-LSTM", "lstm": "LSTM"}
ID_COLUMNS = ["experiment", "arch", "static", "dim", "attr_seed", "member", "basin"]
#: scenario of each row: basin list, training period, evaluation scheme (temporal / kfoldK-sS),
#: basins and years the predicting model trained on, and what an unseen basin's static vector is
SCENARIO_COLUMNS = [
    "basin_list",
    "train_period",
    "evaluation",
    "train_basins",
    "train_years",
    "unseen_static",
]


def scenario_values(exp, n_rows: int) -> dict:
    """The SCENARIO_COLUMNS of ``n_rows`` rows of one experiment (a temporal cell trained on the
    basins it predicts)."""
    from rvhpc.data.statics import UNSEEN_STATIC

    kfold = exp.evaluation != "temporal"
    n_train = exp.train_basins if exp.train_basins is not None else n_rows
    return {
        "basin_list": exp.basin_list,
        "train_period": exp.train_period,
        "evaluation": exp.evaluation,
        "train_basins": pd.array([n_train] * n_rows, dtype="Int64"),
        "train_years": np.nan if exp.train_years is None else float(exp.train_years),
        "unseen_static": UNSEEN_STATIC.get(exp.static, "") if kfold else "",
    }


def ensemble_rows(metrics: pd.DataFrame) -> pd.DataFrame:
    """The rows of the seed ensembles (``member == "ensemble"``)."""
    return metrics[metrics["member"] == "ensemble"]


def summary(
    metrics: pd.DataFrame, experiments: list[str], skipped: dict[str, int] | None = None
) -> pd.DataFrame:
    """Per experiment: ensemble median/mean NSE, single-seed median NSE (mean, std over seeds),
    basins with ensemble NSE < 0, seeds found, random draws ensembled (``draws``; 0 for
    experiments without random columns; the seeds' count for paired draws), and the basins left
    out because a seed predicts them as NaN (``basins_skipped_nan``, from ``skipped``: name ->
    count; the medians are over the other basins, and say so).

    Parameters
    ----------
    metrics : pd.DataFrame
        Per-basin metrics of members and ensembles (metrics.parquet).
    experiments : list[str]
        The experiments, in table order.
    skipped : dict, optional

    Returns
    -------
    pd.DataFrame
    """
    skipped = skipped or {}
    rows = []
    for name in experiments:
        sub = metrics[metrics["experiment"] == name]
        first = sub.iloc[0]
        seeds = sub[sub["member"] != "ensemble"]
        per_seed = seeds.groupby("member")["NSE"].median()
        ens = ensemble_rows(sub)["NSE"]
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
                "basins_skipped_nan": int(skipped.get(name, 0)),
                **_scenario_summary(name, sub),
            }
        )
    return pd.DataFrame(rows)


def _scenario_summary(name: str, sub: pd.DataFrame) -> dict:
    if "basin_list" not in sub.columns:
        return {}
    first = sub.iloc[0]
    return {
        "scenario": name.partition("@")[2],
        "paper_name": name.partition("@")[0],
        "basin_list": first["basin_list"],
        "train_period": first["train_period"],
        "evaluation": first["evaluation"],
        # k-fold: the mean over the basins' fold models
        "train_basins": round(float(sub["train_basins"].astype(float).mean()), 1),
        "train_years": first["train_years"],
        "unseen_static": first["unseen_static"],
    }


def scenarios(summ: pd.DataFrame) -> list[str]:
    """The scenarios of a summary in order; [""] for a plain grid."""
    if "scenario" not in summ.columns:
        return [""]
    return list(dict.fromkeys(summ["scenario"]))


def scenario_title(block: pd.DataFrame) -> str:
    """One line saying what a scenario block is."""
    first = block.iloc[0]
    parts = [f"basin list {first['basin_list'] or '(the store)'}"]
    parts.append(f"{first['train_basins']:g} training basins per model")
    if first["train_period"]:
        parts.append(f"training period {first['train_period']} ({first['train_years']:g} years)")
    ev = str(first["evaluation"])
    unseen = "; ".join(
        f"{p}: {u}" for p, u in zip(block["paper_name"], block["unseen_static"], strict=True)
    )
    if ev == "temporal":
        parts.append("temporal evaluation (the training basins in the eval period)")
    elif ev == "regions":
        parts.append(
            "leave-one-region-out (ungauged regions: each fold trains on the other sub-datasets); "
            f"each basin is predicted by the fold that held its region out; unseen basins get: "
            f"{unseen}"
        )
    else:
        folds, _, seed = ev[5:].partition("-s")
        parts.append(
            f"PUB: {folds}-fold cross-validation over basins (seed {seed}); each basin is "
            "predicted by the fold model that never saw it; unseen basins get: "
            + "; ".join(
                f"{p}: {u}"
                for p, u in zip(block["paper_name"], block["unseen_static"], strict=True)
            )
        )
    return ", ".join(parts)


def by_scenario(summ: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """(scenario, its summary rows) in order."""
    if scenarios(summ) == [""]:
        return [("", summ)]
    return [(s, summ[summ["scenario"] == s]) for s in scenarios(summ)]


def paper_tables(summ: pd.DataFrame) -> pd.DataFrame:
    """The paper table, one block per scenario (index scenario, architecture) when there are
    scenarios; the plain :func:`paper_table` otherwise."""
    blocks = by_scenario(summ)
    if blocks == [("", summ)] or len(blocks) == 1 and blocks[0][0] == "":
        return paper_table(summ)
    return pd.concat(
        {s: paper_table(b) for s, b in blocks}, names=["scenario", "architecture"], sort=False
    )


def blocks_markdown(summ: pd.DataFrame, paper: bool) -> str:
    """summary.md / paper_table.md: one titled table per scenario (a plain grid: one table)."""
    blocks = by_scenario(summ)
    if len(blocks) == 1 and blocks[0][0] == "":
        if paper:
            return to_markdown(paper_table(summ), index=True)
        extra = [c for c in SCENARIO_COLUMNS + ["scenario", "paper_name"] if c in summ]
        return to_markdown(summ.drop(columns=extra))
    out = []
    for name, block in blocks:
        if paper:
            table = to_markdown(paper_table(block), index=True)
        else:
            shown = block.drop(
                columns=[c for c in SCENARIO_COLUMNS + ["scenario", "experiment"] if c in block]
            )
            shown = shown.rename(columns={"paper_name": "experiment"})
            table = to_markdown(shown[["experiment"] + [c for c in shown if c != "experiment"]])
        out.append(f"## {name}\n\n{scenario_title(block)}\n\n{table}")
    return "\n".join(out)


def static_column(static: str, dim) -> str:
    return f"{static}-{int(dim)}" if pd.notna(dim) else static


def paper_table(summ: pd.DataFrame) -> pd.DataFrame:
    """Architectures x static vectors, ensemble median NSE (mean over attr_seeds when several)."""
    frame = summ.assign(
        column=[static_column(s, d) for s, d in zip(summ["static"], summ["dim"], strict=False)]
    )
    order = sorted(
        {
            (_static_rank(s), 0 if pd.isna(d) else int(d), c)
            for s, d, c in zip(frame["static"], frame["dim"], frame["column"], strict=False)
        }
    )
    table = frame.pivot_table(
        index="arch", columns="column", values="ensemble_median_nse", aggfunc="mean", dropna=False
    )
    table = table.reindex(columns=[c for *_, c in order])
    table = table.reindex(
        [a for a in ARCH_TITLES if a in table.index]
        + [a for a in table.index if a not in ARCH_TITLES]
    )
    table.index = [ARCH_TITLES.get(a, a) for a in table.index]
    table.index.name = "architecture"
    return table


_STATIC_ORDER = ("physics", "gaussian", "one_hot", "mixed", "none")


def _static_rank(kind: str) -> int:
    return _STATIC_ORDER.index(kind) if kind in _STATIC_ORDER else 9


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
