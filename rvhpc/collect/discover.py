"""Find the cells to collect: finished run directories (``DONE``) of a runs dir or a grid file.

What a cell must predict is read from its config.json here (``eval_basins``, else ``basins``,
else the basins of its statics.npz), so that collect can refuse a predictions file holding other
basins: rows added for a fold's own training basin would otherwise be scored as held-out results.
Collected from a grid, a cell whose folder holds another run than the grid asks for (*stale*) is
a problem, never collected as current; a cell that diverged (``DIVERGED``) is named with the NaN
results.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path

from rvhpc.collect.checks import check_names, expected_basins
from rvhpc.experiments import KINDS_WITH_DIM, experiment_name
from rvhpc.runfiles import (
    CONFIG_JSON,
    DONE,
    PREDICTIONS,
    STATICS_NPZ,
    STUDY_JOURNAL,
    VAL_PREDICTIONS,
)
from rvhpc.runrecords import diverged_record, diverged_text, run_is_done


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
    #: a sweep point or search trial (``hidden=64,dropout=0.4``, ``trial=3``); "" for none, and
    #: its settings as (key, value) pairs (a trial's first pair is ("trial", k))
    point: str = ""
    point_values: tuple = ()

    @property
    def family(self) -> Experiment:
        """The experiment without its point: the points of one family are chosen among."""
        return replace(self, point="", point_values=())

    label: str = ""  # the grid's ``name:`` of the experiment (config.json ``name``); "" if none

    @property
    def paper_name(self) -> str:
        """The experiment's name, else the paper's (``EG-64``); a fixed non-zero attr_seed is
        appended (``EG-64/a1``)."""
        base = self.label or experiment_name(self.arch, self.static, self.dim)
        return f"{base}/a{self.attr_seed}" if self.attr_seed else base

    @property
    def scenario(self) -> str:
        """``<list>[/<period>][/kfoldK-sS]``, or "" for a plain cell."""
        parts = [self.basin_list, self.train_period]
        parts.append("" if self.evaluation == "temporal" else self.evaluation)
        return "/".join(p for p in parts if p)

    @property
    def name(self) -> str:
        """The paper's name, with the point (``EP/hidden=64``) and the scenario appended
        (``EP@half/last3y``) when there are any: experiments of different scenarios are never
        mixed."""
        base = f"{self.paper_name}/{self.point}" if self.point else self.paper_name
        return f"{base}@{self.scenario}" if self.scenario else base


@dataclass(frozen=True)
class Cell:
    """One finished training run, and the basins its config says it predicts (None: unknown)."""

    run_dir: Path
    label: str  # run dir relative to the collected root, for messages
    experiment: Experiment
    seed: int
    file: str = PREDICTIONS  # VAL_PREDICTIONS for the validation pass
    expected: tuple[str, ...] | None = None
    expected_from: str = ""  # where ``expected`` comes from, for messages

    @property
    def predictions(self) -> Path:
        return self.run_dir / self.file

    @property
    def has_validation(self) -> bool:
        return (self.run_dir / VAL_PREDICTIONS).is_file()


@dataclass
class Discovery:
    """What a runs dir or grid holds: finished cells by experiment, unfinished ones, problems,
    and cells that diverged (a line each)."""

    root: Path
    cells: list[Cell] = field(default_factory=list)
    unfinished: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    studies: list[Path] = field(default_factory=list)  # Optuna journals of search experiments
    diverged: list[str] = field(default_factory=list)

    def experiments(self) -> dict[Experiment, list[Cell]]:
        """The finished cells grouped by experiment, in table order, each group by seed.

        Returns
        -------
        dict[Experiment, list[Cell]]
        """
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
        tuple((k, _sortable(v)) for k, v in exp.point_values),
    )


def _sortable(value) -> tuple:
    """Numbers before text, each in its own order (a sweep's points in value order)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, float(value), "")
    return (1, 0.0, str(value))


def experiment_of(config: dict, paired: bool | None = None) -> tuple[Experiment, int]:
    """(experiment, seed) of a run's config.json; dim/attr_seed kept only for random static kinds,
    the name from its ``name`` (a grid's ``name:``).

    Parameters
    ----------
    config : dict
    paired : bool, optional
        Overrides the run's own ``paired_draw`` record (a grid source knows its cells).

    Returns
    -------
    (Experiment, int)

    Raises
    ------
    KeyError, ValueError, TypeError
        A config without arch, static or seed, or with values of the wrong type.
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
    evaluation = f"kfold{scen.get('folds')}-s{scen.get('fold_seed')}" if kfold else "temporal"
    point = config.get("point") or {}
    settings = point.get("values", {})
    # the point's name keeps the grid's axis order (config.json sorts its keys)
    named = [p.partition("=")[0] for p in str(point.get("name") or "").split(",")]
    keys = [k for k in named if k in settings] + [k for k in settings if k not in named]
    values = tuple((k, settings[k]) for k in keys)
    if point.get("trial") is not None:
        values = (("trial", int(point["trial"])), *values)
    exp = Experiment(
        str(config["arch"]),
        static,
        dim,
        None if paired else attr_seed,
        paired,
        basin_list=str(scen.get("basin_list") or ""),
        train_period=str(scen.get("train_period") or ""),
        evaluation="regions" if regions else evaluation,
        fold=int(scen["fold"]) if kfold or regions else None,
        folds=int(scen["folds"]) if kfold or regions else None,
        train_basins=scen.get("train_basins"),
        train_years=scen.get("train_years"),
        point=str(point.get("name") or ""),
        point_values=values,
        label=str(config.get("name") or ""),
    )
    return exp, int(config["seed"])


def _cell(run_dir: Path, root: Path, out: Discovery, paired: bool | None = None) -> None:
    label = str(run_dir.relative_to(root)) if run_dir.is_relative_to(root) else str(run_dir)
    record = diverged_record(run_dir)
    if record is not None:
        out.diverged.append(f"cell {label}: {diverged_text(record)}, no predictions")
        return
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
    try:
        expected, source = expected_basins(run_dir, config)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        out.problems.append(f"cell {label}: {CONFIG_JSON} or {STATICS_NPZ} unusable ({exc})")
        return
    out.cells.append(Cell(run_dir, label, exp, seed, expected=expected, expected_from=source))


def scan_runs_dir(root: Path) -> Discovery:
    """Every directory under ``root`` holding a config.json is a cell; finished when it holds
    DONE.

    Parameters
    ----------
    root : Path

    Returns
    -------
    Discovery
    """
    root = Path(root)
    out = Discovery(root)
    for config in sorted(root.rglob(CONFIG_JSON)):
        _cell(config.parent, root, out)
    out.studies = sorted(root.rglob(STUDY_JOURNAL))
    return out


def from_grid(grid: str | Path) -> Discovery:
    """The cells of a grid file or built-in grid name, via :func:`rvhpc.grid.cells.load_grid`.

    A cell whose folder holds another run than the grid asks for (stale: a train key, a basin
    list or a period edited since it ran, or a store rebuilt since) is a problem naming what
    differs, and is not collected.

    Parameters
    ----------
    grid : str or Path

    Returns
    -------
    Discovery
    """
    from rvhpc.grid.cells import load_grid
    from rvhpc.grid.state import grid_states

    loaded = load_grid(grid)
    states = grid_states(loaded)
    out = Discovery(Path(loaded.runs_dir))
    out.studies = sorted({Path(c.search["study"]) for c in loaded.cells if c.search is not None})
    for cell in loaded.cells:
        run_dir = Path(cell.run_dir)
        state = states[cell.index]
        if state.state == "stale":
            where = run_dir.relative_to(out.root) if run_dir.is_relative_to(out.root) else run_dir
            out.problems.append(
                f"cell {where}: stale ({state.detail}): it holds another run than grid "
                f"{loaded.name} asks for; not collected (rerun it: rvhpc run {grid} "
                "--rerun-stale)"
            )
        elif (run_dir / CONFIG_JSON).is_file():
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

    Parameters
    ----------
    source : str or Path

    Returns
    -------
    Discovery
        A seed found twice for one experiment is a problem, and only its first cell is kept.

    Raises
    ------
    ConfigError
        The source is neither a directory nor a loadable grid.
    CollectError
        One name for different experiments.
    """
    path = Path(source)
    found = scan_runs_dir(path) if path.is_dir() else from_grid(source)
    check_names(found.cells)
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
