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
from dataclasses import dataclass, field
from pathlib import Path

from rvhpc.collect.checks import check_names, expected_basins
from rvhpc.collect.experiment import Experiment, experiment_of, table_order
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
            for exp, cells in sorted(groups.items(), key=lambda kv: table_order(kv[0]))
        }


def _label(run_dir: Path, root: Path) -> str:
    """A cell's name in messages: its run dir relative to the collected root."""
    return str(run_dir.relative_to(root)) if run_dir.is_relative_to(root) else str(run_dir)


def _cell(run_dir: Path, root: Path, out: Discovery, paired: bool | None = None) -> None:
    label = _label(run_dir, root)
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
    """The cells of a grid file or built-in grid name, via :func:`rvhpc.grid.expand.load_grid`.

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
    from rvhpc.grid.expand import load_grid
    from rvhpc.grid.state import grid_states

    loaded = load_grid(grid)
    states = grid_states(loaded)
    out = Discovery(Path(loaded.runs_dir))
    out.studies = sorted({Path(c.search["study"]) for c in loaded.cells if c.search is not None})
    for cell in loaded.cells:
        run_dir = Path(cell.run_dir)
        state = states[cell.index]
        if state.state == "stale":
            out.problems.append(
                f"cell {_label(run_dir, out.root)}: stale ({state.detail}): it holds another run "
                f"than grid {loaded.name} asks for; not collected (rerun it: rvhpc run {grid} "
                "--rerun-stale)"
            )
        elif (run_dir / CONFIG_JSON).is_file():
            _cell(run_dir, out.root, out, paired=cell.paired)
        else:
            out.unfinished.append(_label(run_dir, out.root))
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
