"""What every dataset reader provides: the contract between a dataset module and the one pass
that checks a download and builds its store (rvhpc/data/scan.py).

A reader is made once from the user's roots, basin list and choices, and is then the only thing
that knows where the files are: the check and the build ask it for each basin's files, its
attribute table and one basin's series, and the store records its :meth:`Dataset.settings`.
Readers never raise for what concerns one basin or one file: they add a
:class:`~rvhpc.data.check_report.Finding`, so ``rvhpc data check`` reports everything at once.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from rvhpc.data.check_report import BasinCheck, CheckReport, Finding, basin_names
from rvhpc.errors import DataError

#: the target's name in the store, in ``data show`` and in predictions (mm/day for every dataset)
TARGET = "qobs(mm/day)"


@dataclass
class BasinRecord:
    """One basin's series as read: input rows (days since 1970-01-01 [T], values [T, k] float32 in
    the reader's input order), observed discharge (days [Tq], mm/day [Tq] float32, NaN missing),
    numbers the files give about the basin (``info``) and the sha256 of each file read."""

    days: np.ndarray
    x: np.ndarray
    q_days: np.ndarray
    q: np.ndarray
    info: dict[str, float] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)


class Dataset(ABC):
    """A dataset reader (see the module docstring); subclasses register in ``registry.DATASETS``.

    Parameters
    ----------
    roots : the dataset's root folder(s)
    basin_file : the basin list
    inputs, descriptors : the dynamic inputs and descriptors to store (None: the defaults)
    options : reader options (``forcing`` of CAMELS US, ``format`` of Caravan)

    Raises
    ------
    DataError
        A root, the basin list or an option that leaves nothing to check.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    #: what the inputs' files are called in messages ("forcing files", "time-series files")
    series_label: ClassVar[str] = "time-series files"
    #: per-basin numbers of the store besides the series (CAMELS US: area, latitude, elevation)
    info_names: ClassVar[tuple[str, ...]] = ("area_m2",)
    default_inputs: ClassVar[tuple[str, ...]]
    default_descriptors: ClassVar[tuple[str, ...]]

    def __init__(
        self,
        roots: list[str | os.PathLike],
        basin_file: str | os.PathLike,
        inputs: list[str] | tuple[str, ...] | None = None,
        descriptors: list[str] | tuple[str, ...] | None = None,
        **options: Any,
    ) -> None:
        self.roots = [Path(r) for r in roots]
        self.basin_file = Path(basin_file)
        self.inputs = tuple(inputs) if inputs else tuple(self.default_inputs)
        self.descriptors = (
            tuple(descriptors) if descriptors is not None else self.default_descriptors
        )
        self.options = options
        for what, names in (("--inputs", self.inputs), ("--descriptors", self.descriptors)):
            repeated = sorted({n for n in names if list(names).count(n) > 1})
            if repeated:
                raise DataError(f"{what}: {', '.join(repeated)} given twice; name each once")
        self.basins: list[str] = self.read_basin_list(self.basin_file)

    # ---- ids and regions -------------------------------------------------------------------
    @classmethod
    @abstractmethod
    def read_basin_list(cls, path: str | os.PathLike) -> list[str]:
        """The ids of a basin list, with this dataset's rule for an id."""

    @classmethod
    def region(cls, basin: str) -> str:
        """The region (sub-dataset) of a basin, for the ``regions`` evaluation scheme."""
        raise DataError(f"dataset {cls.name}: basin ids have no region (sub-dataset) prefix")

    # ---- files ------------------------------------------------------------------------------
    @abstractmethod
    def locate(self, report: CheckReport, findings: list[Finding]) -> dict[str, list[Path]]:
        """The files of each listed basin that has them (a finding for each missing file)."""

    @abstractmethod
    def read_args(self, basin: str, files: list[Path]) -> tuple:
        """The arguments of :attr:`reader` for one basin (small and picklable)."""

    #: module-level ``reader(*read_args) -> BasinRecord`` (run in reader processes)
    reader: ClassVar[Callable[..., BasinRecord]]

    #: module-level ``spanner(*read_args) -> (first, last) day | None``: a basin's input rows'
    #: first and last day, read cheaply (the store's date axis is sized from them)
    spanner: ClassVar[Callable[..., tuple[int, int] | None]]

    @abstractmethod
    def attributes(self, report: CheckReport, findings: list[Finding]) -> pd.DataFrame | None:
        """Every attribute column of the listed basins (index: basin id, text kept as text), or
        None when the attribute files are unusable; descriptor columns checked here."""

    @abstractmethod
    def attribute_files(self) -> list[Path]:
        """Every attribute file read."""

    def check_basin(  # noqa: B027 (a hook: most datasets have no rule of their own)
        self, check: BasinCheck, record: BasinRecord, table: pd.DataFrame | None
    ) -> None:
        """Dataset-specific per-basin checks (fields of ``check``); none by default."""

    def extra_findings(  # noqa: B027 (a hook: most datasets have no rule of their own)
        self, report: CheckReport, findings: list[Finding]
    ) -> None:
        """Dataset-specific findings over all basins (after the pass); none by default."""

    def missing_columns(self, missing: dict[str, list[str]], findings: list[Finding]) -> None:
        """One finding per column that some basins' files lack."""
        for column, basins in missing.items():
            findings.append(
                Finding(
                    "error",
                    "input-missing",
                    f"{self.series_where()}: column {column!r} is missing from the files of "
                    f"basin(s) {basin_names(basins)}; choose --inputs without it, or remove these "
                    f"basins from the list {self.basin_file}",
                    basins,
                )
            )

    def basin_info(self, record: BasinRecord, table: pd.DataFrame, basin: str) -> list[float]:
        """The :attr:`info_names` values of one basin (NaN when unknown)."""
        return [float(record.info.get(n, np.nan)) for n in self.info_names]

    def fingerprint_fields(self, located: dict, periods: list, stats: Callable) -> dict | None:
        """The fields the store's fingerprint hashes, when the dataset has its own (None: the
        generic ones of rvhpc.data.prepare.fingerprint)."""
        return None

    # ---- descriptions ----------------------------------------------------------------------
    @abstractmethod
    def series_where(self) -> str:
        """Where the inputs' files lie, for messages."""

    @abstractmethod
    def attributes_where(self) -> str:
        """Where the attribute files lie, for messages."""

    def settings(self) -> dict[str, Any]:
        """What the store is built from besides files and periods (fingerprint, store attrs)."""
        return dict(
            dataset=self.name,
            roots=[str(r.resolve()) for r in self.roots],
            inputs=list(self.inputs),
            descriptors=list(self.descriptors),
            **self.options,
        )

    def describe(self) -> str:
        """One line: the dataset and its root(s)."""
        roots = ", ".join(str(r) for r in self.roots)
        opts = ", ".join(f"{v}" for v in self.options.values() if v)
        return f"{self.title} at {roots}" + (f" ({opts})" if opts else "")

    @abstractmethod
    def cli_args(self) -> list[str]:
        """``rvhpc data check`` arguments that name this source (roots, list, options)."""

    def selection_args(self) -> list[str]:
        """The ``--inputs``/``--descriptors`` arguments of a selection other than the default."""
        args = []
        if self.inputs != self.default_inputs:
            args += ["--inputs", ",".join(self.inputs)]
        if self.descriptors != self.default_descriptors:
            args += ["--descriptors", ",".join(self.descriptors)]
        return args
