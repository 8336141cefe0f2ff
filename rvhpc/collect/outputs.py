"""The results folder of ``collect``: what a collect run did (:class:`CollectReport`), the
tables, problems.txt and nan.txt, and the figures, written from the per-basin metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from rvhpc import progress
from rvhpc.atomic import atomic_path, write_text
from rvhpc.collect import figures, report
from rvhpc.collect.comparison import comparison, scenario_comparison
from rvhpc.errors import CollectError

DEFAULT_BASELINE = "EP"
#: in the results folder: a line per skipped cell or experiment, and per cell with NaN results
PROBLEMS_TXT = "problems.txt"
NAN_TXT = "nan.txt"
#: a line per experiment whose cells ran on different kernel paths (rvhpc.collect.provenance)
WARNINGS_TXT = "warnings.txt"


@dataclass
class CollectReport:
    """What a collect run did and wrote."""

    out: Path
    cells: int = 0
    computed: list[str] = field(default_factory=list)  # labels of cells whose metrics were computed
    cached: list[str] = field(default_factory=list)  # labels of cells read from the cache
    ensembles_computed: int = 0
    unfinished: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    #: experiments whose cells ran on different kernel paths (rvhpc.collect.provenance)
    warnings: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    summary: pd.DataFrame | None = None
    #: a line per cell with NaN predictions (diverged, or NaN for some basins), every basin named
    nan: list[str] = field(default_factory=list)
    #: experiment name -> basins left out of it because a seed predicts them as NaN
    skipped: dict[str, set[str]] = field(default_factory=dict)

    @property
    def skipped_basins(self) -> int:
        """Basins left out for NaN predictions, summed over experiments."""
        return sum(len(b) for b in self.skipped.values())


def check_baseline(baseline: str | None, names: list[str]) -> tuple[str | None, str]:
    """(the experiment compared with across the board, the name compared with per scenario).

    ``--baseline NAME`` takes an experiment's full name (``EP``, ``EP@half``) or, with scenarios,
    its name without the scenario (``EP``, ``MyName``): each scenario is then compared with its
    own ``NAME@<scenario>``, never across scenarios.

    Parameters
    ----------
    baseline : str, optional
        As given; None for the default, EP.
    names : list of str
        The experiments collected.

    Returns
    -------
    (str or None, str)

    Raises
    ------
    CollectError
        No experiment of that name (the message lists them).
    """
    if baseline is None:
        return (DEFAULT_BASELINE if DEFAULT_BASELINE in names else None), DEFAULT_BASELINE
    if baseline in names:
        return baseline, baseline
    if any(n.partition("@")[0] == baseline for n in names):
        return None, baseline
    raise CollectError(
        f"--baseline {baseline}: no such experiment among the finished cells; "
        f"available: {', '.join(names)}"
    )


def write_outputs(
    metrics: pd.DataFrame,
    names: list[str],
    baselines: tuple[str | None, str, str | None],
    out: Path,
    rep: CollectReport,
    chosen: set[str] | None = None,
) -> list[Path]:
    """metrics.parquet, the tables, problems.txt / nan.txt and the figures.

    Parameters
    ----------
    metrics : pd.DataFrame
    names : list[str]
        The experiments in table order.
    baselines : (str or None, str, str or None)
        :func:`_check_baseline`'s pair, and the ``--baseline`` as given (None: the default).
    out : Path
    rep : CollectReport
    chosen : set of str, optional
        The experiments of the paper table: each sweep family's point chosen on validation
        (:mod:`rvhpc.collect.selection`); None: all.

    Returns
    -------
    list[Path]
    """
    baseline, per_scenario, given = baselines
    files = [out / "metrics.parquet"]
    with atomic_path(files[0]) as tmp:
        metrics.to_parquet(tmp, index=False)
    summ = report.summary(metrics, names, {k: len(v) for k, v in rep.skipped.items()})
    rep.summary = summ
    paper_summ = summ if chosen is None else summ[summ["experiment"].isin(chosen)]
    paper = report.paper_tables(paper_summ)
    tables = {"summary": (summ, False), "paper_table": (paper, True)}
    ens_names = set(metrics.loc[metrics["member"] == "ensemble", "experiment"])
    scenario_bases = [f"{per_scenario}@{s}" for s in report.scenarios(summ) if s]
    if baseline is not None and baseline in ens_names:
        tables["comparison"] = (comparison(metrics, baseline), False)
    elif (baseline is None or given is None) and any(b in ens_names for b in scenario_bases):
        # with scenarios: each experiment against the baseline of its own scenario, never across
        tables["comparison"] = (scenario_comparison(metrics, scenario_bases), False)
    elif given is not None:
        progress.log(f"baseline {given} has no ensemble; comparison.csv not written")
        if (out / "comparison.csv").exists():
            (out / "comparison.csv").unlink()  # a stale comparison would not match these metrics
    for stem, (frame, index) in tables.items():
        with atomic_path(out / f"{stem}.csv") as tmp:
            frame.to_csv(tmp, index=index, float_format="%.6g")
        files.append(out / f"{stem}.csv")
        if stem != "comparison":
            shown = paper_summ if stem == "paper_table" else summ
            write_text(out / f"{stem}.md", report.blocks_markdown(shown, stem == "paper_table"))
            files.append(out / f"{stem}.md")
    for name, lines in (
        (PROBLEMS_TXT, rep.problems),
        (NAN_TXT, rep.nan),
        (WARNINGS_TXT, rep.warnings),
    ):
        if lines:
            write_text(out / name, "\n".join(lines) + "\n")
            files.append(out / name)
        elif (out / name).exists():
            (out / name).unlink()  # from an earlier collect: it would not match these results
    files += figures.write_figures(metrics, summ, out)
    return files
