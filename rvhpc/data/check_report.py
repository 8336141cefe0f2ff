"""What ``rvhpc data check`` reports (rvhpc.data.check fills it): findings, per-basin results,
the JSON form, and the one-line error ``prepare`` stops with."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from rvhpc.errors import DataError

#: the study's input window: the first day of a period needs WINDOW_DAYS - 1 days before it
WINDOW_DAYS = 270
#: relative difference of forcing-header area and area_gages2 that is flagged
AREA_TOLERANCE = 0.10


@dataclass
class Finding:
    """One line of the report: ``level`` error or warning, the ``rule`` and the basins concerned."""

    level: str
    rule: str
    message: str
    basins: list[str] = field(default_factory=list)


@dataclass
class BasinCheck:
    """What the checks found for one listed basin (fractions are of the period's days)."""

    basin: str
    forcing_file: str | None = None
    streamflow_file: str | None = None
    forcing_days: tuple[str, str] | None = None
    missing_descriptors: list[str] = field(default_factory=list)
    train_missing_q: float | None = None
    eval_missing_q: float | None = None
    area_diff: float | None = None
    problems: list[str] = field(default_factory=list)


@dataclass
class CheckReport:
    """The whole report; ``data``/``attributes`` hold what was read (for the store build)."""

    root: Path
    basin_file: Path
    forcing: str
    train_period: tuple[pd.Timestamp, pd.Timestamp]
    eval_period: tuple[pd.Timestamp, pd.Timestamp]
    basins: list[BasinCheck]
    attribute_files: dict[str, dict]
    findings: list[Finding]
    data: list = field(default_factory=list, repr=False)
    attributes: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "warning"]

    def to_dict(self) -> dict:
        """The report as JSON-ready data (``rvhpc data check --json``)."""
        return dict(
            ok=not self.errors,
            root=str(self.root),
            basin_file=str(self.basin_file),
            forcing=self.forcing,
            train_period=[str(d.date()) for d in self.train_period],
            eval_period=[str(d.date()) for d in self.eval_period],
            window_days=WINDOW_DAYS,
            errors=[asdict(f) for f in self.errors],
            warnings=[asdict(f) for f in self.warnings],
            attribute_files=self.attribute_files,
            basins=[asdict(b) for b in self.basins],
        )

    def raise_for_errors(self, command: str = "rvhpc data check") -> None:
        """DataError with the first error line (and how many more) when there are errors."""
        errors = self.errors
        if errors:
            more = (
                f" (and {len(errors) - 1} more error(s): run `{command}` for the report)"
                if len(errors) > 1
                else ""
            )
            raise DataError(errors[0].message + more)
