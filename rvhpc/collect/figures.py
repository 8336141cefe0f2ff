"""The paper-style figures (matplotlib, Agg backend, PNG) from the ensemble per-basin NSE."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from rvhpc.atomic import atomic_path
from rvhpc.collect.report import ARCH_TITLES

NSE_FLOOR = -1.0  # basins below are drawn at the floor so a few failures do not squash the plots


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    _plt().close(fig)
    return path


def nse_cdf(ens: pd.DataFrame, path: Path) -> Path:
    """Cumulative distribution of per-basin ensemble NSE, one line per experiment."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    names = list(dict.fromkeys(ens["experiment"]))
    for name in names:
        nse = np.sort(
            np.clip(ens.loc[ens["experiment"] == name, "NSE"].dropna().to_numpy(), NSE_FLOOR, 1)
        )
        if nse.size:
            ax.step(nse, np.arange(1, nse.size + 1) / nse.size, where="post", label=name, lw=1.2)
    ax.set(
        xlabel="NSE (ensemble, per basin)",
        ylabel="fraction of basins",
        xlim=(NSE_FLOOR, 1),
        ylim=(0, 1),
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7 if len(names) > 10 else 9, ncol=1 + len(names) // 16, loc="upper left")
    return _save(fig, path)


def nse_vs_dim(summ: pd.DataFrame, path: Path) -> Path | None:
    """Ensemble median NSE against the dimension d of Gaussian and mixed vectors; None without
    any."""
    sub = summ[summ["static"].isin(["gaussian", "mixed"]) & summ["dim"].notna()]
    if sub.empty:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for (arch, static), grp in sub.groupby(["arch", "static"], sort=True):
        line = grp.groupby("dim")["ensemble_median_nse"].mean().sort_index()
        ax.plot(
            line.index.astype(float),
            line.to_numpy(),
            marker="o" if static == "gaussian" else "s",
            ls="-" if static == "gaussian" else "--",
            label=f"{ARCH_TITLES.get(arch, arch)} {static}",
        )
    ax.set_xscale("log", base=2)
    ax.set(xlabel="dimension d of the static vector", ylabel="median NSE (ensemble)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def nse_vs_training(summ: pd.DataFrame, x: str, path: Path) -> Path | None:
    """Ensemble median NSE against ``x`` (``train_basins`` or ``train_years``), one line per
    experiment and the other scenario settings; None unless some line has two or more points."""
    if x not in summ.columns or "paper_name" not in summ.columns:
        return None
    sub = summ[summ[x].notna()]
    other = ["train_period"] if x == "train_basins" else ["basin_list"]
    keys = ["paper_name", "evaluation", *other]
    lines = [
        (key, grp.groupby(x)["ensemble_median_nse"].median().sort_index())
        for key, grp in sub.groupby(keys, sort=False)
    ]
    lines = [(key, line) for key, line in lines if len(line) > 1]
    if not lines:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for key, line in lines:
        label = " ".join(str(k) for k in key if k and k != "temporal")
        ax.plot(line.index.astype(float), line.to_numpy(), marker="o", label=label)
    ax.set(
        xlabel="training basins per model" if x == "train_basins" else "training years",
        ylabel="median NSE (ensemble)",
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _save(fig, path)


def nse_box_by_arch(ens: pd.DataFrame, path: Path) -> Path:
    """Boxplots of per-basin ensemble NSE, all experiments of one architecture pooled."""
    plt = _plt()
    order = list(ARCH_TITLES)
    archs = [a for a in order if a in set(ens["arch"])] + sorted(set(ens["arch"]) - set(order))
    data = [
        np.clip(ens.loc[ens["arch"] == a, "NSE"].dropna().to_numpy(), NSE_FLOOR, 1) for a in archs
    ]
    fig, ax = plt.subplots(figsize=(1.2 + 1.1 * len(archs), 4))
    ax.boxplot(data, showfliers=True, flierprops={"markersize": 2})
    ax.set_xticks(range(1, len(archs) + 1), [ARCH_TITLES.get(a, a) for a in archs])
    ax.set(
        ylabel=f"NSE (ensemble, per basin; < {NSE_FLOOR:g} drawn at {NSE_FLOOR:g})",
        ylim=(NSE_FLOOR - 0.05, 1),
    )
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def write_figures(metrics: pd.DataFrame, summ: pd.DataFrame, out: Path) -> list[Path]:
    """All figures into ``out``; returns the files written."""
    ens = metrics[metrics["member"] == "ensemble"]
    paths = []
    if not ens.empty:
        paths += [
            nse_cdf(ens, out / "nse_cdf.png"),
            nse_box_by_arch(ens, out / "nse_box_by_arch.png"),
        ]
    dim_fig = nse_vs_dim(summ, out / "nse_vs_dim.png")
    if dim_fig is not None:
        paths.append(dim_fig)
    for x in ("train_basins", "train_years"):
        fig = nse_vs_training(summ, x, out / f"nse_vs_{x}.png")
        if fig is not None:
            paths.append(fig)
    return paths
