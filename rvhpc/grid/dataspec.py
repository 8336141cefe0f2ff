"""The ``data:`` section of a grid file: the dataset and its store, the basin list or named
lists, the periods (training, evaluation, validation), synthetic data and the evaluation scheme
(temporal, k-fold, regions), each checked when the grid loads (one line per problem)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from rvhpc.config_io import Int, Seed, Strict
from rvhpc.periods import check_apart, parse_period

#: bounds of the data section (docs/limits.md): far beyond any real study
MAX_BASINS = 100_000  # Caravan with its extensions holds about 22,000
MAX_LAST_YEARS = 200
MAX_FOLDS = 1_000


class SyntheticSpec(Strict):
    """A synthetic tree of the grid's dataset (CAMELS US or Caravan) that rvhpc generates when it
    is missing."""

    basins: Int = Field(ge=1, le=MAX_BASINS)
    start: str
    end: str
    seed: Seed = 0

    @model_validator(mode="after")
    def _dates(self) -> SyntheticSpec:
        parse_period((self.start, self.end))
        return self


class LastYears(Strict):
    """A training period: the last N years of the grid's training period."""

    last_years: Int = Field(ge=1, le=MAX_LAST_YEARS)


#: a training-period scenario: the last N years, or explicit [start, end] dates
PeriodSpec = LastYears | tuple[str, str]


def dates_as_text(value: Any) -> Any:
    """YAML reads unquoted dates as dates: keep them as ISO text."""
    if isinstance(value, list):
        return [
            [str(d) if isinstance(d, date) else d for d in v] if isinstance(v, list) else v
            for v in value
        ]
    return value


class EvaluationSpec(Strict):
    """How a cell is evaluated: ``temporal`` (its own basins in the eval period), ``kfold`` over
    basins (PUB: each fold predicts the basins the other folds trained on) or ``regions``
    (leave-one-region-out: each fold holds out one sub-dataset, the gauge-id prefix)."""

    scheme: Literal["temporal", "kfold", "regions"] = "temporal"
    folds: Int | None = Field(None, ge=2, le=MAX_FOLDS)
    seed: Seed = 0

    @model_validator(mode="after")
    def _folds(self) -> EvaluationSpec:
        if self.scheme == "kfold" and self.folds is None:
            raise ValueError("scheme kfold needs folds: K (at least 2)")
        if self.scheme != "kfold" and self.folds is not None:
            raise ValueError("folds apply only to scheme kfold (regions makes one fold per region)")
        return self


class DataSpec(Strict):
    """Where the basin store comes from: an existing store, a dataset's root(s) + basin list, or
    synthetic data. ``camels_root`` is CAMELS US's spelling of ``root``."""

    store: Path | None = None  # the store to use, or where to prepare it
    dataset: str = "camels_us"
    root: Path | list[Path] | None = None  # a root, or several (Caravan and its extensions)
    camels_root: Path | None = None
    basins: Path | dict[str, Path] | None = None  # basin list file, or {name: file} lists
    forcing: str | None = None  # CAMELS US forcing product (default maurer_extended)
    format: Literal["netcdf", "csv"] | None = None  # Caravan time series (default: netcdf if any)
    inputs: list[str] | None = None  # dynamic inputs (default: the dataset's)
    descriptors: list[str] | None = None  # physics descriptors (default: the dataset's)
    train_period: tuple[str, str] | None = None
    eval_period: tuple[str, str] | None = None
    synthetic: SyntheticSpec | None = None
    name: str | None = None  # basin-list name in run directories (default: the list's stem)
    n_basins: Int | None = Field(
        None, ge=1, le=MAX_BASINS
    )  # only for the work estimate when the list is not at hand
    train_periods: list[PeriodSpec] | None = None  # training-length scenarios of every experiment
    #: scored by every cell besides the eval period; chooses sweep points, search trials and the
    #: early-stopping epoch, so the choice never looks at the evaluation (test) years
    validation_period: tuple[str, str] | None = None

    @field_validator("train_periods", mode="before")
    @classmethod
    def _periods_text(cls, value: Any) -> Any:
        return dates_as_text(value)

    @field_validator("train_period", "eval_period", "validation_period")
    @classmethod
    def _period(cls, value: tuple[str, str] | None) -> tuple[str, str] | None:
        if value is not None:
            parse_period(value)
        return value

    @field_validator("dataset")
    @classmethod
    def _dataset(cls, value: str) -> str:
        from rvhpc.data.datasets import DATASETS

        if value not in DATASETS:
            raise ValueError(f"unknown dataset {value!r}; known: {', '.join(DATASETS)}")
        return value

    @property
    def roots(self) -> list[Path] | None:
        """The root folder(s), whichever way they were spelled."""
        root = self.camels_root if self.camels_root is not None else self.root
        if root is None:
            return None
        return list(root) if isinstance(root, list) else [root]

    @property
    def root_key(self) -> str:
        return "camels_root" if self.camels_root is not None else "root"

    @property
    def n_descriptors(self) -> int:
        """Descriptors of the store (the chosen ones, or the dataset's defaults)."""
        from rvhpc.data.datasets import dataset_class

        return len(self.descriptors or dataset_class(self.dataset).default_descriptors)

    @model_validator(mode="after")
    def _validation_apart(self) -> DataSpec:
        if self.validation_period is not None:
            check_apart(
                self.validation_period,
                {"training": self.train_period, "evaluation": self.eval_period},
            )
        return self

    @model_validator(mode="after")
    def _one_source(self) -> DataSpec:
        lists = isinstance(self.basins, dict)
        key = self.root_key
        if self.camels_root is not None and self.root is not None:
            raise ValueError("give the root once: root or camels_root (CAMELS US), not both")
        if self.camels_root is not None and self.dataset != "camels_us":
            raise ValueError(f"camels_root is CAMELS US's; for dataset {self.dataset} use root")
        if self.forcing is not None and self.dataset != "camels_us":
            raise ValueError(f"forcing is an option of CAMELS US, not of dataset {self.dataset}")
        if self.format is not None and self.dataset != "caravan":
            raise ValueError(f"format is an option of Caravan, not of dataset {self.dataset}")
        if lists and not self.basins:
            raise ValueError("basins: name at least one list ({name: file})")
        if self.synthetic is not None and (
            self.roots is not None or (self.basins is not None and not lists)
        ):
            raise ValueError(f"give either synthetic or {key} + basins, not both")
        if lists and (self.roots is None and self.synthetic is None and self.store is None):
            raise ValueError(f"basin lists select from a store: give {key}, synthetic or store")
        if not lists and (self.roots is None) != (self.basins is None):
            raise ValueError(f"{key} and basins go together (the dataset folder and a basin list)")
        if self.synthetic is None and self.roots is None and self.store is None:
            raise ValueError(f"name a store, or {key} + basins, or synthetic")
        if (self.synthetic is not None or self.roots is not None) and (
            self.train_period is None or self.eval_period is None
        ):
            raise ValueError(
                "preparing a store needs train_period and eval_period ([start, end] dates)"
            )
        return self


def basin_list_name(data: DataSpec) -> str:
    """The name of a grid's single basin list in run directories: ``data.name``, else the list
    file's stem, ``synthetic``, or the store's stem.

    Parameters
    ----------
    data : DataSpec

    Returns
    -------
    str
    """
    if data.name:
        return data.name
    if data.basins is not None:
        return data.basins.stem
    if data.synthetic is not None:
        return "synthetic"
    return data.store.stem
