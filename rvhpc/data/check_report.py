"""What ``rvhpc data check`` reports (rvhpc.data.scan fills it): findings, per-basin results,
the JSON form, and the one-line error ``prepare`` stops with."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

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
    files: list[str] = field(default_factory=list)
    forcing_days: tuple[str, str] | None = None
    missing_descriptors: list[str] = field(default_factory=list)
    train_missing_q: float | None = None
    eval_missing_q: float | None = None
    area_diff: float | None = None
    problems: list[str] = field(default_factory=list)
    #: period -> days of the period without complete inputs; warm-up short (internal)
    gaps: dict[str, int] = field(default_factory=dict, repr=False)
    warm_short: dict[str, bool] = field(default_factory=dict, repr=False)


@dataclass
class CheckReport:
    """The whole report; ``attributes`` holds the attribute table read (for the store build)."""

    dataset: str
    source: str
    roots: list[str]
    options: dict[str, Any]
    basin_file: str
    train_period: tuple[pd.Timestamp, pd.Timestamp]
    eval_period: tuple[pd.Timestamp, pd.Timestamp]
    basins: list[BasinCheck]
    attribute_files: dict[str, dict] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    attributes: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "warning"]

    def to_dict(self) -> dict:
        """The report as JSON-ready data (``rvhpc data check --json``)."""
        basins = []
        for b in self.basins:
            entry = asdict(b)
            entry.pop("gaps"), entry.pop("warm_short")
            basins.append(entry)
        return dict(
            ok=not self.errors,
            dataset=self.dataset,
            source=self.source,
            root=self.roots[0] if len(self.roots) == 1 else self.roots,
            roots=self.roots,
            **self.options,
            basin_file=self.basin_file,
            train_period=[str(d.date()) for d in self.train_period],
            eval_period=[str(d.date()) for d in self.eval_period],
            window_days=WINDOW_DAYS,
            errors=[asdict(f) for f in self.errors],
            warnings=[asdict(f) for f in self.warnings],
            attribute_files=self.attribute_files,
            basins=basins,
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


def basin_names(basins: list[str], limit: int = 10) -> str:
    """The first ``limit`` basins of a finding, and how many there are when more."""
    more = f", ... ({len(basins)} basins)" if len(basins) > limit else ""
    return ", ".join(basins[:limit]) + more
