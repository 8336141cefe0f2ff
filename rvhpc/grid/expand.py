"""A grid file expanded into its cells: every experiment x its sweep points or search trials x
dims x draws x seeds x the scenarios it runs under, each cell's TrainConfig and run folder, with
the checks that refuse an empty grid, bad combinations, duplicate cells, shared run folders and
one name for two experiments (:func:`load_grid`, the one way to read a grid)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from rvhpc import experiments
from rvhpc.errors import ConfigError
from rvhpc.grid import search as searching
from rvhpc.grid.basinlists import ListReader
from rvhpc.grid.cells import Cell, Grid, cell_id, store_path
from rvhpc.grid.scenarios import expand_scenarios
from rvhpc.grid.spec import GridSpec, check_cell_count, load_spec
from rvhpc.grid.sweep import points


def expand(spec: GridSpec, store: Path) -> list[Cell]:
    """The cartesian product of every experiment (and its sweep points or search trials); refuses
    an empty grid, bad combinations, duplicate cells, shared run folders and a name given to two
    experiments.

    An experiment's ``name:`` travels with its cells (TrainConfig ``name``, so config.json and
    collect's tables carry it); with several dims each dim's cells are ``<name>-<dim>``, as the
    paper's names are (EG-8, EG-64). Names are labels: they change no cell id or run directory.

    Parameters
    ----------
    spec : GridSpec
    store : Path
        The store every cell trains on.

    Returns
    -------
    list[Cell]
        In array-index order.

    Raises
    ------
    ConfigError
        One line naming the experiment (``experiments[i]``) and what to change.
    """
    reader = ListReader(spec)
    cells: list[Cell] = []
    seen: dict[str, str] = {}
    folders: dict[Path, str] = {}
    names: dict[int, set[str]] = {}
    for number, exp, scenario in _with_scenarios(spec, reader):
        where = f"experiments[{number}] ({exp.name or exp.arch + '/' + exp.static})"
        dims = _dims(spec, exp, where)
        space = None
        if exp.search is not None:
            searching.check_experiment(
                spec, exp, dims, scenario.scheme, f"grid {spec.name}: {where}"
            )
        found = searching.trial_points(exp.search) if exp.search else points(spec, exp, where)
        draws = len(dims) * len(exp.seeds) * (1 if exp.paired else len(exp.attr_seeds))
        check_cell_count(len(cells) + len(found) * draws, f"grid {spec.name}")
        for point in found:
            for dim, attr_seed, seed in _draws(exp, dims):
                config = _config(spec, exp, scenario, store, point, dim, attr_seed, seed, where)
                run_dir = spec.runs_dir / experiments.run_subdir(
                    scenario.prefix(), exp.arch, exp.static, dim, attr_seed, seed, point.name
                )
                record, extra = None, None
                if exp.search is not None:
                    if space is None:  # checked once, with the experiment's first cell
                        space = searching.check_space(
                            exp.search, config.model_dump(), f"grid {spec.name}: {where}"
                        )
                    record, extra = searching.trial_record(exp.search, space, run_dir, point)
                cid = cell_id(config, extra)
                label = (
                    f"{exp.arch}/{exp.static}"
                    + (f"/d{dim}/a{attr_seed}" if dim else "")
                    + (f"/{point.name}" if point.name else "")
                    + f"/seed{seed}"
                    + ("" if scenario.plain else f" under {scenario.prefix()}")
                )
                _check_unique(spec, (seen, cid, label), (folders, run_dir), where)
                name = _name(exp, dim)
                names.setdefault(number, set()).add(name)
                cells.append(
                    Cell(
                        len(cells),
                        cid,
                        f"{name}/{point.name}" if point.name else name,
                        exp.arch,
                        exp.static,
                        dim,
                        attr_seed,
                        seed,
                        run_dir,
                        config.model_dump(mode="json"),
                        config.scenario,
                        record,
                    )
                )
    if not cells:
        raise ConfigError(
            f"grid {spec.name}: no cells: list at least one experiment under experiments:"
        )
    _check_names(spec, names)
    return cells


def _dims(spec: GridSpec, exp: Any, where: str) -> list[int | None]:
    """The experiment's dims ([None] for kinds without one); ConfigError for a misfit."""
    if exp.static in experiments.KINDS_WITH_DIM:
        if not exp.dims:
            raise ConfigError(f"grid {spec.name}: {where}: static {exp.static!r} needs dims: [..]")
        return list(exp.dims)
    if exp.dims:
        raise ConfigError(
            f"grid {spec.name}: {where}: static {exp.static!r} takes no dims; remove them"
        )
    if exp.attr_seeds != [0]:
        raise ConfigError(
            f"grid {spec.name}: {where}: attr_seeds apply only to gaussian and mixed vectors"
        )
    return [None]


def _check_unique(spec: GridSpec, ids: tuple, dirs: tuple, where: str) -> None:
    """A cell id and a run folder may each appear once in a grid (then record them)."""
    (seen, cid, label), (folders, run_dir) = ids, dirs
    if cid in seen:
        raise ConfigError(
            f"grid {spec.name}: duplicate cell {label} ({where} repeats {seen[cid]}); "
            "remove one of them"
        )
    if run_dir in folders:
        raise ConfigError(
            f"grid {spec.name}: {where} and {folders[run_dir]} both write "
            f"{run_dir.relative_to(spec.runs_dir)}: they differ only in train settings; "
            "sweep the differing setting in one experiment instead"
        )
    seen[cid] = folders[run_dir] = where


def _config(spec, exp, scenario, store, point, dim, attr_seed, seed, where):
    """The TrainConfig of one cell: the grid's train, the experiment's, the point's settings,
    then what the cell itself sets."""
    from rvhpc.training.config import TrainConfig

    try:
        experiments.check_cell(exp.arch, exp.static, dim, spec.data.n_descriptors)
    except ConfigError as exc:
        raise ConfigError(f"grid {spec.name}: {where}: {exc}") from None
    values = {
        **spec.train,
        **exp.train,
        **point.settings,
        "store": store,
        "arch": exp.arch,
        "static": exp.static,
        "dim": dim,
        "attr_seed": attr_seed,
        "seed": seed,
        "paired_draw": exp.paired,
        "name": _name(exp, dim) if exp.name else None,
        **scenario.train_values(),
    }
    if spec.data.validation_period is not None:
        values["val_period"] = spec.data.validation_period
    if point.name:
        values["point"] = point.label()
    try:
        return TrainConfig.create(**values)
    except ConfigError as exc:
        raise ConfigError(f"grid {spec.name}: {where}: {exc}") from None


def _name(exp: Any, dim: int | None) -> str:
    """The experiment name of a cell: its ``name:`` (``-<dim>`` appended with several dims), else
    the paper's (EP, EG-64, ...)."""
    if exp.name is None:
        return experiments.experiment_name(exp.arch, exp.static, dim)
    return f"{exp.name}-{dim}" if exp.dims and len(exp.dims) > 1 else exp.name


def _check_names(spec: GridSpec, names: dict[int, set[str]]) -> None:
    """A ``name:`` belongs to one experiment: refuse one that another experiment also has (given
    or by default), since collect, its tables and ``--baseline`` find experiments by name."""
    for number, exp in enumerate(spec.experiments):
        if exp.name is None:
            continue
        for other, theirs in names.items():
            if other != number and names.get(number, set()) & theirs:
                first, second = sorted((number, other))
                shared = sorted(names[number] & theirs)[0]
                raise ConfigError(
                    f"grid {spec.name}: experiments[{second}] has the name {shared!r} of "
                    f"experiments[{first}]; give each experiment a name of its own"
                )


def _draws(exp: Any, dims: list[int | None]) -> list[tuple[int | None, int, int]]:
    """(dim, attr_seed, seed) of an experiment's cells: ``attr_seeds: paired`` pairs each init seed
    with the draw of the same number; a list crosses every listed draw with every seed."""
    if exp.static not in experiments.KINDS_WITH_DIM:
        return [(None, 0, seed) for seed in exp.seeds]
    if exp.paired:
        return [(dim, seed, seed) for dim in dims for seed in exp.seeds]
    return list(itertools.product(dims, exp.attr_seeds, exp.seeds))


def _with_scenarios(spec: GridSpec, reader: ListReader):
    """(number, experiment, scenario) for every experiment and each scenario it runs under."""
    for number, exp in enumerate(spec.experiments):
        where = (
            f"grid {spec.name}: experiments[{number}] ({exp.name or exp.arch + '/' + exp.static})"
        )
        for scenario in expand_scenarios(spec, exp, reader, where):
            yield number, exp, scenario


def load_grid(name_or_path: str | Path) -> Grid:
    """Read, validate and expand a grid file or built-in grid name.

    Parameters
    ----------
    name_or_path : str or Path
        A grid YAML file, or a built-in grid's name (``smoke``, ``paper``).

    Returns
    -------
    Grid

    Raises
    ------
    ConfigError
        A grid that cannot be read, validated or expanded (one line).
    """
    spec, path = load_spec(name_or_path)
    store = store_path(spec)
    return Grid(spec, path, store, expand(spec, store))
