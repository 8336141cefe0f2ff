"""The grid file: a YAML description of a study (data, runs directory, shared training settings,
experiments). Validated with pydantic, unknown keys refused, one-line errors.

Relative paths resolve against the grid file's folder; a built-in grid named by name (``smoke``,
``paper``) resolves them against the current directory instead, so nothing is written into the
installed package.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from rvhpc.config_io import Int, Seed, Strict, read_yaml, validate
from rvhpc.errors import ConfigError
from rvhpc.grid.dataspec import DataSpec, EvaluationSpec, PeriodSpec, dates_as_text
from rvhpc.periods import warn_overlap
from rvhpc.resources import builtin_grid, builtin_grid_names
from rvhpc.training.limits import MAX_DIM

#: bounds of the grid file's own numbers (docs/limits.md; the data section's are in
#: rvhpc.grid.dataspec): far beyond any real study, close enough that a typo (a few zeros too
#: many) is refused before anything is allocated.
#: the most cells (training runs) one grid expands to; the paper's grid has 175
MAX_CELLS = 50_000


def check_cell_count(count: int, where: str) -> None:
    """Refuse a grid that would expand to more than MAX_CELLS cells, before the product of its
    axes is built (a few long lists multiply to billions).

    Parameters
    ----------
    count : int
        Cells (or scenarios) it would have.
    where : str
        What the error names.

    Raises
    ------
    ConfigError
        ``count`` over MAX_CELLS.
    """
    if count > MAX_CELLS:
        raise ConfigError(
            f"{where}: expands to {count:,} cells, more than {MAX_CELLS:,}; split the study into "
            "several grids or shorten its lists"
        )


#: TrainConfig fields a cell gets from its experiment, the data or its sweep point: refused in
#: ``train:`` (the grid's and an experiment's alike), in sweeps and in search spaces
CELL_KEYS = frozenset(
    {
        "store",
        "arch",
        "static",
        "dim",
        "attr_seed",
        "seed",
        "paired_draw",
        "basins",
        "eval_basins",
        "train_period",
        "scenario",
        "name",
        "val_period",
        "point",
    }
)


def check_train_keys(value: dict[str, Any]) -> dict[str, Any]:
    """A ``train:`` mapping without the keys a cell sets itself (ValueError naming them)."""
    reserved = CELL_KEYS & set(value)
    if reserved:
        raise ValueError(
            f"{', '.join(sorted(reserved))} are set per experiment or by data, not in train"
        )
    return value


#: what an experiment's ``name:`` may be (TrainConfig.name checks the same)
EXPERIMENT_NAME = re.compile(r"[^@\x00-\x1f\x7f]{1,64}")


class SearchSpec(Strict):
    """``search:`` of an experiment: an Optuna study of ``trials`` trials over ``params``
    (checked by :func:`rvhpc.grid.search.check_space`, one line per problem)."""

    method: Literal["optuna"]
    trials: Int = Field(ge=1, le=MAX_CELLS)
    params: dict[str, Any]
    sampler: Literal["tpe", "random"] = "tpe"
    seed: Int = 0  # the sampler's seed (each trial's sampler: this seed and the trial's number)


class ExperimentSpec(Strict):
    """One row of the study: an architecture and static kind, expanded over dims x attr_seeds x
    seeds.

    ``attr_seeds: paired`` gives each init seed its own random draw (attr_seed = seed), as the
    original code did (every run drew its own vectors and its ensemble script averaged a
    dimension's runs across all draws); a list gives every seed each of the listed draws.
    """

    name: str | None = None  # default: the paper's name (EP, EG-64, ...); one experiment each
    arch: str
    static: str
    dims: list[Annotated[Int, Field(ge=1, le=MAX_DIM)]] | None = None
    attr_seeds: list[Seed] | Literal["paired"] = Field(default_factory=lambda: [0])
    seeds: list[Seed] = Field(default_factory=lambda: [0])
    basin_lists: list[str] | None = None  # names of data.basins lists (default: every list)
    train_periods: list[PeriodSpec] | None = None  # default: data.train_periods
    evaluation: EvaluationSpec | None = None  # default: the grid's evaluation
    train: dict[str, Any] = Field(default_factory=dict)  # overrides of the grid's train
    #: axes {setting: [values]} crossed with the grid's sweep: one experiment per point
    sweep: dict[str, Any] | None = None
    search: SearchSpec | None = None  # an Optuna study instead of fixed settings

    @field_validator("train")
    @classmethod
    def _no_cell_keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        return check_train_keys(value)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not EXPERIMENT_NAME.fullmatch(value):
            raise ValueError(
                "an experiment name is 1 to 64 characters without '@' (collect names scenarios "
                "NAME@scenario) and without control characters"
            )
        return value

    @field_validator("seeds", "attr_seeds")
    @classmethod
    def _nonempty(cls, value: list[int] | str) -> list[int] | str:
        if not value:
            raise ValueError("must list at least one seed")
        return value

    @field_validator("train_periods", mode="before")
    @classmethod
    def _periods_text(cls, value: Any) -> Any:
        return dates_as_text(value)

    @property
    def paired(self) -> bool:
        """True for ``attr_seeds: paired``."""
        return self.attr_seeds == "paired"


class GridSpec(Strict):
    """The whole grid file."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    data: DataSpec
    runs_dir: Path
    train: dict[str, Any] = Field(default_factory=dict)  # shared TrainConfig overrides
    evaluation: EvaluationSpec | None = None  # default of every experiment (temporal)
    #: axes {setting: [values]} of every experiment (crossed with an experiment's own sweep)
    sweep: dict[str, Any] | None = None
    experiments: list[ExperimentSpec]

    @field_validator("train")
    @classmethod
    def _no_cell_keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        return check_train_keys(value)


def resolve_grid_path(name_or_path: str | Path) -> tuple[Path, Path]:
    """The grid file and the folder its relative paths resolve against.

    Parameters
    ----------
    name_or_path : str or Path
        A YAML file, or a built-in grid's name (its paths resolve against the current directory).

    Returns
    -------
    (Path, Path)

    Raises
    ------
    ConfigError
        No such file or built-in grid (the message lists the built-in names).
    """
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.exists():
        if not candidate.is_file():
            raise ConfigError(f"{candidate}: grid file not found")
        return candidate.resolve(), candidate.resolve().parent
    builtin = builtin_grid(str(name_or_path))
    if builtin is not None:
        return builtin, Path.cwd()
    known = ", ".join(builtin_grid_names())
    raise ConfigError(
        f"grid {str(name_or_path)!r} not found: pass a grid YAML file or a built-in name ({known})"
    )


def _absolute(base: Path, path: Path | None) -> Path | None:
    if path is None:
        return None
    path = path.expanduser()
    return path if path.is_absolute() else (base / path).resolve()


def load_spec(name_or_path: str | Path) -> tuple[GridSpec, Path]:
    """Read and validate a grid file; returns the spec with absolute paths and the file.

    Parameters
    ----------
    name_or_path : str or Path

    Returns
    -------
    (GridSpec, Path)

    Raises
    ------
    ConfigError
        One line naming the file and the field.
    """
    path, base = resolve_grid_path(name_or_path)
    spec = validate(GridSpec, read_yaml(path), str(path))
    if spec.data.train_period is not None and spec.data.eval_period is not None:
        warn_overlap(spec.data.train_period, spec.data.eval_period, f"grid {spec.name}")
    data = spec.data.model_copy(
        update={
            "store": _absolute(base, spec.data.store),
            "camels_root": _absolute(base, spec.data.camels_root),
            "root": (
                [_absolute(base, r) for r in spec.data.root]
                if isinstance(spec.data.root, list)
                else _absolute(base, spec.data.root)
            ),
            "basins": (
                {k: _absolute(base, v) for k, v in spec.data.basins.items()}
                if isinstance(spec.data.basins, dict)
                else _absolute(base, spec.data.basins)
            ),
        }
    )
    return spec.model_copy(update={"data": data, "runs_dir": _absolute(base, spec.runs_dir)}), path
