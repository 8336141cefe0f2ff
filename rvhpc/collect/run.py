"""``collect``: one Dask task per cell, one per experiment ensemble, then tables and figures."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from distributed import Client, as_completed

from rvhpc import progress
from rvhpc.atomic import atomic_path, write_text
from rvhpc.collect import figures, report
from rvhpc.collect.compute import cell_key, cell_metrics, ensemble_metrics
from rvhpc.collect.discover import Cell, Experiment, discover
from rvhpc.collect.provenance import mixed_warnings
from rvhpc.errors import CollectError, RvhpcError

DEFAULT_BASELINE = "EP"


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


def _id_columns(frame: pd.DataFrame, exp: Experiment, member: str) -> pd.DataFrame:
    # a paired experiment's member k drew with attr_seed k; its ensemble spans all draws (NA)
    attr_seed = (int(member) if member != "ensemble" else None) if exp.paired else exp.attr_seed
    ids = {
        "experiment": exp.name,
        "arch": exp.arch,
        "static": exp.static,
        "dim": pd.array([exp.dim] * len(frame), dtype="Int64"),
        "attr_seed": pd.array([attr_seed] * len(frame), dtype="Int64"),
        "member": member,
        **report.scenario_values(exp, len(frame)),
    }
    columns = report.ID_COLUMNS + report.SCENARIO_COLUMNS
    return frame.assign(**ids)[columns + [c for c in frame.columns if c != "basin"]]


def _basin_mismatch(exp: Experiment, frames: dict[Cell, pd.DataFrame]) -> str | None:
    sets = {cell: frozenset(frame["basin"]) for cell, frame in frames.items()}
    ref_cell, ref = next(iter(sets.items()))
    odd = [cell for cell, basins in sets.items() if basins != ref]
    if not odd:
        return None
    detail = ", ".join(
        f"{c.label} ({len(sets[c])} basins, {len(sets[c] ^ ref)} differ)" for c in odd
    )
    return (
        f"experiment {exp.name}: seeds have different basin sets: "
        f"{ref_cell.label} ({len(ref)} basins) vs "
        f"{detail}; not ensembled (rerun the odd cells on the same basin list)"
    )


def _check_baseline(baseline: str | None, names: list[str]) -> str | None:
    if baseline is None:
        return DEFAULT_BASELINE if DEFAULT_BASELINE in names else None
    if baseline not in names:
        raise CollectError(
            f"--baseline {baseline}: no such experiment among the finished cells; "
            f"available: {', '.join(names)}"
        )
    return baseline


def _task(func, *args) -> tuple:
    """Run a task; an RvhpcError comes back as its message, so workers do not log it as a crash."""
    try:
        return func(*args), None
    except RvhpcError as exc:
        return None, str(exc)
    except OSError as exc:  # a full or read-only disk: raised again by the client, in one line
        return None, exc


def compute_all(
    client: Client, groups: dict[Experiment, list[Cell]], cache_dir: Path, rep: CollectReport
) -> list[pd.DataFrame]:
    """Submit cell tasks, then each experiment's ensemble task once all its cells are in."""
    keys: dict[Cell, str] = {}
    for exp in list(groups):
        for cell in list(groups[exp]):
            try:
                keys[cell] = cell_key(cell)
            except RvhpcError as exc:
                rep.problems.append(str(exc))
                groups[exp] = [c for c in groups[exp] if c is not cell]
        if not groups[exp]:
            del groups[exp]
    futures = {
        client.submit(
            _task, cell_metrics, cell, keys[cell], cache_dir, key=f"cell-{keys[cell]}", pure=False
        ): (exp, cell)
        for exp, cells in groups.items()
        for cell in cells
    }
    waiting = {exp: len(cells) for exp, cells in groups.items()}
    good: dict[Experiment, dict[Cell, pd.DataFrame]] = {exp: {} for exp in groups}
    parts: list[pd.DataFrame] = []
    with progress.task("collect", total=len(futures) + len(groups), every=20) as bar:
        for fut in (ac := as_completed(futures)):
            exp, cell = futures[fut]
            result, error = fut.result()
            if isinstance(error, OSError):
                raise error
            frame, computed = result if result is not None else (None, False)
            if error is not None:
                rep.problems.append(error)
                progress.log(f"skipped: {error}")
            if cell is None:  # an ensemble task
                bar.advance(info=exp.name)
                if frame is not None:
                    rep.ensembles_computed += int(computed)
                    parts.append(_id_columns(frame, exp, "ensemble"))
                continue
            bar.advance(info=cell.label)
            if frame is not None:
                (rep.computed if computed else rep.cached).append(cell.label)
                good[exp][cell] = frame
                parts.append(_id_columns(frame, exp, str(cell.seed)))
            waiting[exp] -= 1
            if waiting[exp] == 0:
                mismatch = _basin_mismatch(exp, good[exp]) if good[exp] else "no readable seed"
                if mismatch is None:
                    members = sorted(good[exp], key=lambda c: c.seed)
                    efut = client.submit(
                        _task,
                        ensemble_metrics,
                        exp.name,
                        members,
                        [keys[c] for c in members],
                        cache_dir,
                        key=f"ensemble-{exp.name}-{keys[members[0]]}",
                        pure=False,
                    )
                    futures[efut] = (exp, None)
                    ac.add(efut)
                else:
                    if good[exp]:
                        rep.problems.append(mismatch)
                        progress.log(f"skipped: {mismatch}")
                    bar.advance(info=exp.name)
    return parts


def collect(
    source: str | Path,
    out: Path,
    client: Client,
    baseline: str | None = None,
    allow_partial: bool = False,
) -> CollectReport:
    """Collect every finished cell of a runs dir or grid into ``out``.

    Writes metrics.parquet, summary.csv/.md, paper_table.csv/.md, comparison.csv and PNG figures.

    Raises
    ------
    CollectError
        No finished cells, unknown baseline, or (after writing the results of the good cells) a
        corrupt cell or mismatched experiment when ``allow_partial`` is False.
    """
    out = Path(out)
    found = discover(source)
    rep = CollectReport(
        out=out, cells=len(found.cells), unfinished=found.unfinished, problems=list(found.problems)
    )
    if found.unfinished:
        progress.log(
            f"{len(found.unfinished)} unfinished cell(s) skipped: "
            f"{', '.join(found.unfinished[:10])}" + (" ..." if len(found.unfinished) > 10 else "")
        )
    for problem in found.problems:
        progress.log(f"skipped: {problem}")
    if not found.cells:
        raise CollectError(
            f"{source}: no finished cells (no run directory with DONE; "
            f"{len(found.unfinished)} unfinished); wait for the grid or check the path"
        )
    groups = found.experiments()
    rep.problems += missing_folds(groups)
    rep.warnings = mixed_warnings(groups)
    for warning in rep.warnings:
        progress.log(f"warning: {warning}")
    names = list(dict.fromkeys(exp.name for exp in groups))
    base = _check_baseline(baseline, names)
    progress.log(f"collecting {len(found.cells)} cell(s) of {len(groups)} experiment(s) into {out}")
    parts = compute_all(client, dict(groups), out / "cache", rep)
    if not parts:
        raise CollectError(
            f"{source}: none of the {len(found.cells)} finished cells could be read: "
            f"{rep.problems[0]}"
        )
    metrics = pd.concat(parts, ignore_index=True)
    order = {name: i for i, name in enumerate(names)}
    metrics = metrics.sort_values(
        ["experiment", "member", "basin"],
        key=lambda c: c.map(order) if c.name == "experiment" else c,
        kind="stable",
        ignore_index=True,
    )
    rep.files += write_outputs(
        metrics, [n for n in names if n in set(metrics["experiment"])], base, out, rep
    )
    if rep.problems and not allow_partial:
        more = (
            f" (+{len(rep.problems) - 1} more in {out / 'problems.txt'})"
            if len(rep.problems) > 1
            else ""
        )
        raise CollectError(
            f"{rep.problems[0]}{more}; results of the other cells are in {out}; "
            f"pass --allow-partial to accept them"
        )
    return rep


def missing_folds(groups: dict[Experiment, list[Cell]]) -> list[str]:
    """A line per k-fold experiment and seed that lacks a fold (whose basins are then missing)."""
    seen: dict[tuple[str, int], set[int]] = {}
    folds: dict[str, int] = {}
    for exp, cells in groups.items():
        if exp.fold is None:
            continue
        folds[exp.name] = int(exp.evaluation[5:].split("-")[0])
        for cell in cells:
            seen.setdefault((exp.name, cell.seed), set()).add(exp.fold)
    return [
        f"experiment {name}: seed {seed} has no finished fold(s) "
        f"{', '.join(map(str, sorted(set(range(folds[name])) - got)))}; their basins are missing"
        for (name, seed), got in sorted(seen.items())
        if len(got) < folds[name]
    ]


def write_outputs(
    metrics: pd.DataFrame, names: list[str], baseline: str | None, out: Path, rep: CollectReport
) -> list[Path]:
    files = [out / "metrics.parquet"]
    with atomic_path(files[0]) as tmp:
        metrics.to_parquet(tmp, index=False)
    summ = report.summary(metrics, names)
    rep.summary = summ
    paper = report.paper_tables(summ)
    tables = {"summary": (summ, False), "paper_table": (paper, True)}
    ens_names = set(metrics.loc[metrics["member"] == "ensemble", "experiment"])
    scenario_bases = [f"{DEFAULT_BASELINE}@{s}" for s in report.scenarios(summ) if s]
    if baseline is not None and baseline in ens_names:
        tables["comparison"] = (report.comparison(metrics, baseline), False)
    elif baseline is None and any(b in ens_names for b in scenario_bases):
        # with scenarios: each experiment against EP of its own scenario, never across them
        tables["comparison"] = (report.scenario_comparison(metrics, scenario_bases), False)
    elif baseline is not None:
        progress.log(f"baseline {baseline} has no ensemble; comparison.csv not written")
        if (out / "comparison.csv").exists():
            (out / "comparison.csv").unlink()  # a stale comparison would not match these metrics
    for stem, (frame, index) in tables.items():
        with atomic_path(out / f"{stem}.csv") as tmp:
            frame.to_csv(tmp, index=index, float_format="%.6g")
        files.append(out / f"{stem}.csv")
        if stem != "comparison":
            write_text(out / f"{stem}.md", report.blocks_markdown(summ, stem == "paper_table"))
            files.append(out / f"{stem}.md")
    for name, lines in (("problems.txt", rep.problems), ("warnings.txt", rep.warnings)):
        if lines:
            write_text(out / name, "\n".join(lines) + "\n")
            files.append(out / name)
        elif (out / name).exists():
            (out / name).unlink()  # a stale list would not match these results
    files += figures.write_figures(metrics, summ, out)
    return files
