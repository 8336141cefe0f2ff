"""Find the cells to collect: finished run directories (``DONE``) of a runs dir or a grid file."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from rvhpc.experiments import KINDS_WITH_DIM, experiment_name
from rvhpc.runfiles import CONFIG_JSON, DONE, PREDICTIONS, run_is_done


@dataclass(frozen=True)
class Experiment:
    """One architecture with one static vector; its seeds are ensembled.

    ``paired``: the runs of a dimension whose draws follow their init seeds (grid ``attr_seeds:
    paired``, the paper's design); they form one experiment across their (seed, attr_seed) pairs,
    as the original's ensemble script averaged every run under ``<arch>/num_of_sf/<d>/``.
    """

    arch: str
    static: str
    dim: int | None
    attr_seed: int | None  # None for paired draws and for kinds without random columns
    paired: bool = False
    # scenario (rvhpc/scenarios.py): empty for a plain grid's cells
    basin_list: str = ""
    train_period: str = ""
    evaluation: str = "temporal"  # or kfoldK-sS, or regions
    fold: int | None = (
        None  # k-fold/regions: folds are grouped (and ensembled) apart, merged by name
    )
    folds: int | None = None  # how many folds the scheme has
    train_basins: int | None = None
    train_years: float | None = None

    @property
    def paper_name(self) -> str:
        """The paper's name (``EG-64``); a fixed non-zero attr_seed is appended (``EG-64/a1``)."""
        base = experiment_name(self.arch, self.static, self.dim)
        return f"{base}/a{self.attr_seed}" if self.attr_seed else base

    @property
    def scenario(self) -> str:
        """``<list>[/<period>][/kfoldK-sS]``, or "" for a plain cell."""
        parts = [self.basin_list, self.train_period]
        parts.append("" if self.evaluation == "temporal" else self.evaluation)
        return "/".join(p for p in parts if p)

    @property
    def name(self) -> str:
        """The paper's name, with the scenario appended (``EP@half/last3y``) when there is one:
        experiments of different scenarios are never mixed."""
        return f"{self.paper_name}@{self.scenario}" if self.scenario else self.paper_name


@dataclass(frozen=True)
class Cell:
    """One finished training run."""

    run_dir: Path
    label: str  # run dir relative to the collected root, for messages
    experiment: Experiment
    seed: int

    @property
    def predictions(self) -> Path:
        return self.run_dir / PREDICTIONS


@dataclass
class Discovery:
    """What a runs dir or grid holds: finished cells by experiment, unfinished ones, problems."""

    root: Path
    cells: list[Cell] = field(default_factory=list)
    unfinished: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def experiments(self) -> dict[Experiment, list[Cell]]:
        groups: dict[Experiment, list[Cell]] = defaultdict(list)
        for cell in self.cells:
            groups[cell.experiment].append(cell)
        return {
            exp: sorted(cells, key=lambda c: c.seed)
            for exp, cells in sorted(groups.items(), key=lambda kv: _order(kv[0]))
        }


def _order(exp: Experiment) -> tuple:
    from rvhpc.collect.report import ARCH_TITLES
    from rvhpc.experiments import STATIC_KINDS

    order = list(ARCH_TITLES)

    return (
        exp.basin_list,
        exp.train_years or 0.0,
        exp.train_period,
        exp.evaluation != "temporal",
        exp.evaluation,
        order.index(exp.arch) if exp.arch in order else 99,
        STATIC_KINDS.index(exp.static) if exp.static in STATIC_KINDS else 99,
        exp.dim or 0,
        exp.attr_seed or 0,
        -1 if exp.fold is None else exp.fold,
    )


def experiment_of(config: dict, paired: bool | None = None) -> tuple[Experiment, int]:
    """(experiment, seed) of a run's config.json; dim/attr_seed kept only for random static kinds.

    ``paired`` overrides the run's own ``paired_draw`` record (a grid source knows its cells).
    """
    static = str(config["static"])
    random_kind = static in KINDS_WITH_DIM
    dim = int(config["dim"]) if random_kind and config.get("dim") is not None else None
    attr_seed = int(config.get("attr_seed") or 0) if random_kind else None
    if paired is None:
        paired = bool(config.get("paired_draw"))
    paired = random_kind and paired
    scen = config.get("scenario") or {}
    scheme = scen.get("evaluation")
    kfold, regions = scheme == "kfold", scheme == "regions"
    label = f"kfold{scen.get('folds')}-s{scen.get('fold_seed')}" if kfold else "temporal"
    exp = Experiment(
        str(config["arch"]),
        static,
        dim,
        None if paired else attr_seed,
        paired,
        basin_list=str(scen.get("basin_list") or ""),
        train_period=str(scen.get("train_period") or ""),
        evaluation="regions" if regions else label,
        fold=int(scen["fold"]) if kfold or regions else None,
        folds=int(scen["folds"]) if kfold or regions else None,
        train_basins=scen.get("train_basins"),
        train_years=scen.get("train_years"),
    )
    return exp, int(config["seed"])


def _cell(run_dir: Path, root: Path, out: Discovery, paired: bool | None = None) -> None:
    label = str(run_dir.relative_to(root)) if run_dir.is_relative_to(root) else str(run_dir)
    if not (run_dir / DONE).is_file():
        out.unfinished.append(label)
        return
    if not run_is_done(run_dir):  # DONE, but not for the predictions there: say so, skip it
        out.problems.append(
            f"cell {label}: {PREDICTIONS} is missing or not the file its DONE was written for "
            "(changed after training); rerun the cell (delete its DONE) or pass --allow-partial"
        )
        return
    try:
        config = json.loads((run_dir / CONFIG_JSON).read_text())
        exp, seed = experiment_of(config, paired)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        out.problems.append(
            f"cell {label}: config.json unusable ({type(exc).__name__}: {exc}); "
            f"it needs arch, static, dim, attr_seed, seed"
        )
        return
    out.cells.append(Cell(run_dir, label, exp, seed))


def scan_runs_dir(root: Path) -> Discovery:
    """Every directory under ``root`` holding a config.json is a cell; finished when it holds
    DONE."""
    root = Path(root)
    out = Discovery(root)
    for config in sorted(root.rglob(CONFIG_JSON)):
        _cell(config.parent, root, out)
    return out


def from_grid(grid: str | Path) -> Discovery:
    """The cells of a grid file or built-in grid name, via :func:`rvhpc.grid.cells.load_grid`."""
    from rvhpc.grid.cells import load_grid

    loaded = load_grid(grid)
    out = Discovery(Path(loaded.runs_dir))
    for cell in loaded.cells:
        run_dir = Path(cell.run_dir)
        if (run_dir / CONFIG_JSON).is_file():
            _cell(run_dir, out.root, out, paired=cell.paired)
        else:
            out.unfinished.append(
                str(run_dir.relative_to(out.root))
                if run_dir.is_relative_to(out.root)
                else str(run_dir)
            )
    return out


def discover(source: str | Path) -> Discovery:
    """A directory is scanned as a runs dir; anything else is a grid file or built-in grid name.

    Raises
    ------
    ConfigError
        The source is neither a directory nor a loadable grid.
    """
    path = Path(source)
    found = scan_runs_dir(path) if path.is_dir() else from_grid(source)
    seen: dict[tuple[Experiment, int], Cell] = {}
    unique = []
    for cell in found.cells:
        first = seen.setdefault((cell.experiment, cell.seed), cell)
        if first is not cell:
            found.problems.append(
                f"cell {cell.label}: seed {cell.seed} of {cell.experiment.name} is also in "
                f"{first.label}; skipped (remove one of them)"
            )
        else:
            unique.append(cell)
    found.cells = unique
    return found
