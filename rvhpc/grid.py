"""Grid files -> cells -> run directories, the manifest array tasks read, and the shared data.

A *cell* is one training run: an experiment (arch, static kind, dim, attr_seed) with one init seed.
Its id is a short hash of its training config, so the same cell has the same id in every grid and
on every submission; its run directory mirrors the original code's layout (reference.md section 5).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from rvhpc import experiments, progress
from rvhpc.atomic import atomic_dir, write_json, write_text
from rvhpc.errors import ConfigError, DataError, RunDirError, naming
from rvhpc.gridspec import DataSpec, GridSpec, load_spec
from rvhpc.runfiles import run_is_done
from rvhpc.scenarios import ListReader, expand_scenarios, union_ids

MANIFEST_FORMAT = 1


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


def basin_list_name(data: DataSpec) -> str:
    if data.name:
        return data.name
    if data.basins is not None:
        return data.basins.stem
    if data.synthetic is not None:
        return "synthetic"
    return data.store.stem


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
                experiments.check_cell(exp.arch, exp.static, dim)
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


# ---------------------------------------------------------------- manifest


def check_writable(
    folder: Path,
    what: str = "runs directory",
    fix: str = "set runs_dir in the grid file to a writable folder",
) -> None:
    """One clear line when an output folder cannot be created or written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunDirError(f"{what} {folder} cannot be created ({exc.strerror}); {fix}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise RunDirError(f"{what} {folder} is not writable; {fix}")


def write_manifest(grid: Grid) -> Path:
    """The cells in array order with their full configs; an existing identical manifest is kept."""
    check_writable(grid.runs_dir)
    path = grid.manifest_path()
    data = {
        "format": MANIFEST_FORMAT,
        "grid": grid.name,
        "grid_file": str(grid.path),
        "digest": grid.digest(),
        "data": data_plan(grid),
        "cells": [c.to_json() for c in grid.cells],
    }
    if not path.exists():
        write_json(path, data, indent=1)
    return path


def read_manifest(path: Path) -> tuple[dict[str, Any], list[Cell]]:
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: manifest not found (rvhpc submit or rvhpc run writes it)"
        ) from None
    except (OSError, ValueError) as exc:  # ValueError: bad JSON, or bytes that are not UTF-8
        raise ConfigError(f"{path}: not a readable manifest ({exc})") from None
    version = data.get("format") if isinstance(data, dict) else None
    if version != MANIFEST_FORMAT:
        raise ConfigError(f"{path}: manifest format {version!r} is not {MANIFEST_FORMAT}; resubmit")
    try:
        return data, [Cell.from_json(c) for c in data["cells"]]
    except (KeyError, TypeError) as exc:
        raise ConfigError(
            f"{path}: not a readable manifest (bad cells: {exc!r}); resubmit"
        ) from None


# ---------------------------------------------------------------- data


def data_plan(grid: Grid) -> dict[str, Any]:
    """What :func:`ensure_data` needs, as JSON (stored in the manifest so array tasks can
    prepare)."""
    d = grid.spec.data
    plan: dict[str, Any] = {
        "grid": grid.name,
        "store": str(grid.store),
        "forcing": d.forcing,
        "train_period": d.train_period,
        "eval_period": d.eval_period,
    }
    if d.synthetic is not None:
        plan["synthetic"] = d.synthetic.model_dump()
        plan["camels_root"] = str(grid.store.parent / f"{grid.store.stem}_camels")
        plan["basins"] = str(Path(plan["camels_root"]) / "basin_list.txt")
    elif d.camels_root is not None:
        plan["camels_root"], plan["basins"] = str(d.camels_root), str(d.basins)
    if isinstance(d.basins, dict) and "camels_root" in plan:
        # one store serves every list: it is prepared from their union
        plan["basins"] = str(grid.store.parent / f"{grid.store.stem}_union.txt")
        plan["union"] = union_ids(grid.spec, ListReader(grid.spec))
    return plan


def ensure_data(plan: dict[str, Any]) -> Path:
    """Make the store exist: generate synthetic CAMELS when asked, then prepare (idempotent,
    locked)."""
    from filelock import FileLock

    store = Path(plan["store"])
    if "camels_root" not in plan:
        if not store.is_file():
            raise DataError(
                f"grid {plan['grid']}: data.store {store} does not exist; run `rvhpc data prepare` "
                "or give camels_root + basins in the grid file"
            )
        return store
    root, basins = Path(plan["camels_root"]), Path(plan["basins"])
    store.parent.mkdir(parents=True, exist_ok=True)
    if plan.get("synthetic"):
        with FileLock(str(root) + ".lock"):
            if not (root / "basin_list.txt").is_file():
                _synthesize(root, plan["synthetic"])
    elif "union" not in plan:
        for key, path in (("camels_root", root), ("basins", basins)):
            if not path.exists():
                raise DataError(
                    f"grid {plan['grid']}: data.{key} {path} does not exist: edit data.{key} in "
                    "(a copy of) the grid file to point at your CAMELS US download "
                    "(see data/basins/README.md)"
                )
    if "union" in plan:
        if not plan.get("synthetic") and not root.exists():
            raise DataError(
                f"grid {plan['grid']}: data.camels_root {root} does not exist: edit it in (a copy "
                "of) the grid file to point at your CAMELS US download"
            )
        text = "".join(f"{b}\n" for b in plan["union"])
        if not basins.is_file() or basins.read_text() != text:
            write_text(basins, text)
    from rvhpc.data.store import prepare_store

    return Path(
        prepare_store(
            root,
            basins,
            store,
            forcing=plan["forcing"],
            train_period=tuple(plan["train_period"]),
            eval_period=tuple(plan["eval_period"]),
        )
    )


def _synthesize(root: Path, synthetic: dict[str, Any]) -> None:
    from rvhpc.data.synth import synthesize

    progress.log(f"generating synthetic CAMELS US ({synthetic['basins']} basins) in {root}")
    # the basin list inside appears only once the whole tree is there; a full disk names it
    with naming(root), atomic_dir(root) as tmp:
        synthesize(
            tmp,
            n_basins=synthetic["basins"],
            start=synthetic["start"],
            end=synthetic["end"],
            seed=synthetic["seed"],
        )


# ---------------------------------------------------------------- work estimate


def estimate(grid: Grid) -> dict[str, Any]:
    """Samples x epochs per cell and for the grid (sample count from basins x training days)."""
    d = grid.spec.data
    n_basins: int | None = d.n_basins
    if d.synthetic is not None:
        n_basins = d.synthetic.basins
    elif isinstance(d.basins, Path) and d.basins.is_file():
        n_basins = sum(1 for line in d.basins.read_text().splitlines() if line.strip())
    days = None
    if d.train_period is not None:
        days = _days(d.train_period)
    per_epoch = n_basins * days if n_basins and days else None
    total = 0
    for c in grid.cells:  # scenario cells name their own basins and period
        cell_basins = len(c.config["basins"]) if c.config.get("basins") else n_basins
        cell_days = _days(c.config["train_period"]) if c.config.get("train_period") else days
        if not (cell_basins and cell_days):
            total = None
            break
        total += cell_basins * cell_days * c.config["epochs"]
    return {
        "basins": n_basins,
        "train_days": days,
        "samples_per_epoch": per_epoch,
        "sample_epochs": total,
    }


#: values of ``--pack`` (and the profile's ``pack``): how cells share one process
PACK_MODES = ("none", "seeds")


def check_pack_mode(mode: str | None) -> str | None:
    """None for no packing, else the mode; ConfigError naming the known values."""
    if mode is None or mode == "none":
        return None
    if mode not in PACK_MODES:
        raise ConfigError(f"unknown pack mode {mode!r}: choose one of {', '.join(PACK_MODES)}")
    return mode


def pack_groups(cells: list[Cell]) -> list[list[Cell]]:
    """Cells that differ only in seed (and an attr_seed paired with it) as groups, each trained as
    one batched model by ``rvhpc cell --pack seeds``; a group is named by its first cell (the
    lead, whose index is the array task's). Where attr_seed is an axis of its own (a seed repeats
    within a group), the group splits by attr_seed. Groups come in lead-index order."""
    groups: dict[str, list[Cell]] = {}
    for cell in cells:
        shared = {k: v for k, v in cell.config.items() if k not in ("seed", "attr_seed")}
        key = json.dumps(shared, sort_keys=True, default=str)
        groups.setdefault(key, []).append(cell)
    out: list[list[Cell]] = []
    for members in groups.values():
        seeds = [c.seed for c in members]
        if len(set(seeds)) == len(seeds):
            out.append(members)
        else:
            by_attr: dict[int, list[Cell]] = {}
            for c in members:
                by_attr.setdefault(c.attr_seed, []).append(c)
            out.extend(by_attr.values())
    return sorted(out, key=lambda g: g[0].index)


def pack_of(cells: list[Cell], index: int) -> list[Cell]:
    """The pack group holding cell ``index``."""
    for group in pack_groups(cells):
        if any(c.index == index for c in group):
            return group
    raise ConfigError(f"no cell with index {index}")


def _days(period) -> int:
    return (pd.Timestamp(period[1]) - pd.Timestamp(period[0])).days + 1
