"""Grid cells: a grid file expanded into its training runs, in array-index order.

A *cell* is one training run: an experiment (arch, static kind, dim, attr_seed) with one init seed.
Its id is a short hash of its training config, so the same cell has the same id in every grid and
on every submission; its run directory mirrors the original code's layout (reference.md section 5).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rvhpc import experiments
from rvhpc.errors import ConfigError
from rvhpc.grid import search as searching
from rvhpc.grid.scenarios import ListReader, expand_scenarios
from rvhpc.grid.spec import GridSpec, check_cell_count, load_spec
from rvhpc.grid.state import RunState, cell_state
from rvhpc.grid.sweep import points
from rvhpc.runfiles import MANIFESTS_DIR, STATE_DIR


@dataclass(frozen=True)
class Cell:
    """One training run of the grid, in array-index order."""

    index: int
    id: str
    experiment: str
    arch: str
    static: str
    dim: int | None
    attr_seed: int
    seed: int
    run_dir: Path
    config: dict[str, Any]  # the full TrainConfig as JSON values
    scenario: dict[str, Any] | None = None  # basin list, training period, fold (scenarios.py)
    search: dict[str, Any] | None = None  # a search trial's study and space (grid/search.py)

    def to_json(self) -> dict[str, Any]:
        """The cell as JSON values (what the manifest stores).

        Returns
        -------
        dict
        """
        data = asdict(self)
        data["run_dir"] = str(self.run_dir)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Cell:
        """A cell from :meth:`to_json`'s values.

        Parameters
        ----------
        data : dict

        Returns
        -------
        Cell
        """
        return cls(**{**data, "run_dir": Path(data["run_dir"])})

    def state(self, fingerprint: str | None = None) -> RunState:
        """What this cell's run directory holds (:func:`rvhpc.grid.state.cell_state`).

        Parameters
        ----------
        fingerprint : str, optional
            The store's fingerprint now; None skips that comparison.

        Returns
        -------
        RunState
        """
        return cell_state(self, fingerprint)

    def is_done(self) -> bool:
        """True when the run directory holds this cell's finished run (DONE and this config); a
        folder holding another config is stale, not done.

        Returns
        -------
        bool
        """
        return self.state().state == "done"

    @property
    def paired(self) -> bool:
        """True when the cell's draw follows its init seed (``attr_seeds: paired``)."""
        return bool(self.config.get("paired_draw"))


def cell_id(config: Any, extra: dict[str, Any] | None = None) -> str:
    """sha1 of the canonical JSON of the config's identity (runtime fields and labels left out),
    12 hex.

    Parameters
    ----------
    config : TrainConfig
    extra : dict, optional
        What a search trial's cells add: their space and trial number, since their settings come
        from the study.

    Returns
    -------
    str
    """
    identity = config.identity() if extra is None else {**config.identity(), **extra}
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(text.encode()).hexdigest()[:12]


@dataclass
class Grid:
    """A loaded grid: the validated spec, its file, the store path and the expanded cells."""

    spec: GridSpec
    path: Path
    store: Path
    cells: list[Cell]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def runs_dir(self) -> Path:
        return self.spec.runs_dir

    @property
    def state_dir(self) -> Path:
        """rvhpc's own bookkeeping in the runs directory (manifests, scripts, submissions)."""
        return self.runs_dir / STATE_DIR

    @property
    def log_dir(self) -> Path:
        return self.runs_dir / "logs" / self.name

    def digest(self) -> str:
        """Hash of the cells in order, with their full configs, and of the data section: names the
        manifest, so pending tasks never see another grid. The configs count, not only the ids: a
        grid edited in what the id leaves out (the store's path, an experiment's name, the data it
        prepares) gets a manifest of its own, never the old one that array tasks would follow to the
        old store. Runtime settings (RUNTIME_FIELDS: numerics, device, threads, log_every) are left
        out: they change how a cell runs, not what it computes, and the manifest of that name is
        rewritten with them.

        Returns
        -------
        str
            12 hex.
        """
        from rvhpc.training.identity import RUNTIME_FIELDS

        configs = [
            {k: v for k, v in c.config.items() if k not in RUNTIME_FIELDS} for c in self.cells
        ]
        text = json.dumps(
            [[c.id, str(c.run_dir), config] for c, config in zip(self.cells, configs, strict=True)]
            + [self.spec.data.model_dump(mode="json")],
            sort_keys=True,
            default=str,
        )
        return hashlib.sha1(text.encode()).hexdigest()[:12]

    def manifest_path(self) -> Path:
        """Where :func:`rvhpc.grid.manifest.write_manifest` writes this grid's manifest.

        Returns
        -------
        Path
        """
        return self.state_dir / MANIFESTS_DIR / f"{self.name}-{self.digest()}.json"


def store_path(spec: GridSpec) -> Path:
    """The store a grid's cells train on: ``data.store``, else ``runs_dir/data/store.h5``.

    Parameters
    ----------
    spec : GridSpec

    Returns
    -------
    Path
    """
    return spec.data.store or spec.runs_dir / "data" / "store.h5"


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
