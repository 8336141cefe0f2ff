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
from rvhpc.grid.scenarios import ListReader, expand_scenarios
from rvhpc.grid.spec import GridSpec, load_spec
from rvhpc.runfiles import run_is_done


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

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["run_dir"] = str(self.run_dir)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Cell:
        return cls(**{**data, "run_dir": Path(data["run_dir"])})

    def is_done(self) -> bool:
        return run_is_done(self.run_dir)

    @property
    def paired(self) -> bool:
        """True when the cell's draw follows its init seed (``attr_seeds: paired``)."""
        return bool(self.config.get("paired_draw"))


def cell_id(config: Any) -> str:
    """sha1 of the canonical JSON of the config's identity (runtime-only fields excluded), 12
    hex."""
    text = json.dumps(config.identity(), sort_keys=True, separators=(",", ":"))
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
        return self.runs_dir / ".rvhpc"

    @property
    def log_dir(self) -> Path:
        return self.runs_dir / "logs" / self.name

    def digest(self) -> str:
        """Hash of the cells in order: names the manifest, so pending tasks never see another
        grid."""
        text = json.dumps([[c.id, str(c.run_dir)] for c in self.cells])
        return hashlib.sha1(text.encode()).hexdigest()[:12]

    def manifest_path(self) -> Path:
        return self.state_dir / "manifests" / f"{self.name}-{self.digest()}.json"


def store_path(spec: GridSpec) -> Path:
    return spec.data.store or spec.runs_dir / "data" / "store.h5"


def expand(spec: GridSpec, store: Path) -> list[Cell]:
    """The cartesian product of every experiment; refuses an empty grid, bad combinations,
    duplicates."""
    from rvhpc.training.config import TrainConfig

    reader = ListReader(spec)
    cells: list[Cell] = []
    seen: dict[str, str] = {}
    for number, exp, scenario in _with_scenarios(spec, reader):
        where = f"experiments[{number}] ({exp.name or exp.arch + '/' + exp.static})"
        if exp.static in experiments.KINDS_WITH_DIM:
            if not exp.dims:
                raise ConfigError(
                    f"grid {spec.name}: {where}: static {exp.static!r} needs dims: [..]"
                )
            dims: list[int | None] = list(exp.dims)
        else:
            if exp.dims:
                raise ConfigError(
                    f"grid {spec.name}: {where}: static {exp.static!r} takes no dims; remove them"
                )
            if exp.attr_seeds != [0]:
                raise ConfigError(
                    f"grid {spec.name}: {where}: "
                    "attr_seeds apply only to gaussian and mixed vectors"
                )
            dims = [None]
        for dim, attr_seed, seed in _draws(exp, dims):
            try:
                experiments.check_cell(exp.arch, exp.static, dim, spec.data.n_descriptors)
            except ConfigError as exc:
                raise ConfigError(f"grid {spec.name}: {where}: {exc}") from None
            values = {
                **spec.train,
                "store": store,
                "arch": exp.arch,
                "static": exp.static,
                "dim": dim,
                "attr_seed": attr_seed,
                "seed": seed,
                "paired_draw": exp.paired,
                **scenario.train_values(),
            }
            try:
                config = TrainConfig.create(**values)
            except ConfigError as exc:
                raise ConfigError(f"grid {spec.name}: {where}: {exc}") from None
            cid = cell_id(config)
            label = (
                f"{exp.arch}/{exp.static}"
                + (f"/d{dim}/a{attr_seed}" if dim else "")
                + f"/seed{seed}"
                + ("" if scenario.plain else f" under {scenario.prefix()}")
            )
            if cid in seen:
                raise ConfigError(
                    f"grid {spec.name}: duplicate cell {label} ({where} repeats {seen[cid]}); "
                    "remove one of them"
                )
            seen[cid] = where
            name = exp.name or experiments.experiment_name(exp.arch, exp.static, dim)
            run_dir = spec.runs_dir / experiments.run_subdir(
                scenario.prefix(), exp.arch, exp.static, dim, attr_seed, seed
            )
            cells.append(
                Cell(
                    len(cells),
                    cid,
                    name,
                    exp.arch,
                    exp.static,
                    dim,
                    attr_seed,
                    seed,
                    run_dir,
                    config.model_dump(mode="json"),
                    config.scenario,
                )
            )
    if not cells:
        raise ConfigError(
            f"grid {spec.name}: no cells: list at least one experiment under experiments:"
        )
    return cells


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
    """Read, validate and expand a grid file or built-in grid name."""
    spec, path = load_spec(name_or_path)
    store = store_path(spec)
    return Grid(spec, path, store, expand(spec, store))
