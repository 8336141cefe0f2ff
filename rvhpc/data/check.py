"""Pre-flight checks of a CAMELS US download (``rvhpc data check``; ``prepare`` runs them first).

Per listed basin: forcing and streamflow files present and readable, the 27 descriptors complete,
observed discharge in the training and evaluation periods, the forcing's date coverage of both
periods plus the warm-up of a 270-day input window, the forcing-header area against
``area_gages2``; and the seven attribute files present with their published columns.

Errors stop ``prepare`` (a basin missing a descriptor, a basin without one observed training day,
a period the forcing does not cover, missing or unreadable files); warnings do not. Findings of
one rule are gathered into one line naming the basins and the fix.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from rvhpc.data import attributes as attrs_io
from rvhpc.data import build, camels
from rvhpc.data.camels import DESCRIPTORS
from rvhpc.data.check_report import (
    AREA_TOLERANCE,
    WINDOW_DAYS,
    BasinCheck,
    CheckReport,
    Finding,
)
from rvhpc.errors import DataError

_EPOCH = pd.Timestamp("1970-01-01")


def _read(forcing_file: Path, streamflow_file: Path) -> build.BasinData | str:
    """One basin's files, or the one-line reason they cannot be read."""
    try:
        return build.read_basin(forcing_file, streamflow_file)
    except DataError as exc:
        return str(exc)


def _basins(basins: list[str], limit: int = 10) -> str:
    more = f", ... ({len(basins)} basins)" if len(basins) > limit else ""
    return ", ".join(basins[:limit]) + more


def _attribute_files(root: Path, basins: list[str], findings: list[Finding]):
    """Read the seven files; the joined table (None when one is unusable) and a per-file summary."""
    summary: dict[str, dict] = {}
    tables = []
    for group in attrs_io.ATTRIBUTE_GROUPS:
        path = attrs_io.attribute_file(root, group)
        entry = summary[group] = dict(path=str(path), present=path.is_file(), missing_columns=[])
        try:
            table = attrs_io.read_attribute_file(path)
        except DataError as exc:
            findings.append(
                Finding("error", "attribute-file", f"{exc}; download camels_attributes_v2.0 again")
            )
            continue
        expected = attrs_io.ATTRIBUTE_COLUMNS[group]
        absent = [c for c in expected if c not in table.columns]
        entry["missing_columns"] = absent
        lost = [c for c in absent if c in DESCRIPTORS]
        if lost:
            findings.append(
                Finding(
                    "error",
                    "descriptor-column",
                    f"{path}: lacks the descriptor column(s) {', '.join(lost)}; download "
                    "camels_attributes_v2.0 again",
                )
            )
        elif absent:
            findings.append(
                Finding(
                    "warning",
                    "attribute-column",
                    f"{path}: lacks the published column(s) {', '.join(absent)}",
                )
            )
        unlisted = [b for b in basins if b not in table.index]
        if unlisted:
            findings.append(
                Finding(
                    "error",
                    "basin-not-in-attributes",
                    f"{path}: no row for listed basin(s) {_basins(unlisted)}",
                    unlisted,
                )
            )
        tables.append(table)
    if len(tables) < len(attrs_io.ATTRIBUTE_GROUPS):
        return None, summary
    joined = tables[0]
    for table in tables[1:]:
        joined = joined.join(table.drop(columns=[c for c in table if c in joined]), how="outer")
    return joined, summary


def _descriptors(report: CheckReport, table: pd.DataFrame, findings: list[Finding]) -> None:
    present = [c for c in DESCRIPTORS if c in table.columns]
    for b in report.basins:
        if b.basin not in table.index:
            continue
        row = pd.to_numeric(table.loc[b.basin, present], errors="coerce")
        b.missing_descriptors = [c for c in present if pd.isna(row[c])]
    bad = [b for b in report.basins if b.missing_descriptors]
    if bad:
        what = "; ".join(f"{b.basin} ({', '.join(b.missing_descriptors)})" for b in bad[:10])
        findings.append(
            Finding(
                "error",
                "descriptor-missing",
                f"{len(bad)} listed basin(s) miss descriptor values in "
                f"{report.root / camels.ATTRIBUTE_DIR}: {what}; a physics or mixed run would "
                f"train on NaN: remove these basins from the list {report.basin_file}",
                [b.basin for b in bad],
            )
        )


def _period_days(period: tuple[pd.Timestamp, pd.Timestamp], before: int = 0) -> np.ndarray:
    lo, hi = ((p - _EPOCH).days for p in period)
    return np.arange(lo - before, hi + 1)


def _series(report: CheckReport, basin: BasinCheck, data: build.BasinData, area_km2) -> None:
    first, last = (str((_EPOCH + pd.Timedelta(days=int(d))).date()) for d in data.x_days[[0, -1]])
    basin.forcing_days = (first, last)
    observed = data.q_days[np.isfinite(data.q)]
    for name, period in (("train", report.train_period), ("eval", report.eval_period)):
        days = _period_days(period)
        setattr(basin, f"{name}_missing_q", float(1 - np.isin(days, observed).mean()))
    if area_km2 is not None and np.isfinite(area_km2) and area_km2 > 0:
        basin.area_diff = float(data.head[0] / 1e6 / area_km2 - 1)


def _coverage(report: CheckReport, findings: list[Finding]) -> None:
    """Period days missing from a forcing file are errors; missing warm-up days warnings."""
    for name, period in (("train", report.train_period), ("eval", report.eval_period)):
        span = f"{period[0].date()}..{period[1].date()}"
        cut, short = [], []
        for b, data in zip(report.basins, report.data, strict=True):
            if not isinstance(data, build.BasinData):
                continue
            gap = int((~np.isin(_period_days(period), data.x_days)).sum())
            start = (period[0] - _EPOCH).days
            warm = np.arange(start - (WINDOW_DAYS - 1), start)
            if gap:
                cut.append(f"{b.basin} ({gap} day(s) missing, forcing {'..'.join(b.forcing_days)})")
                b.problems.append(f"{name} period not covered")
            elif (~np.isin(warm, data.x_days)).any():
                short.append(b.basin)
                b.problems.append(f"{name} warm-up short")
        if cut:
            findings.append(
                Finding(
                    "error",
                    f"{name}-period-not-covered",
                    f"{report.root / camels.FORCING_DIR / report.forcing}: the forcing files of "
                    f"{len(cut)} basin(s) do not cover the {name} period {span}: "
                    f"{'; '.join(cut[:10])}; a file cut short? download it again, or change "
                    f"--{name}-start/--{name}-end or remove these basins from the list "
                    f"{report.basin_file}",
                    [c.split()[0] for c in cut],
                )
            )
        if short:
            findings.append(
                Finding(
                    "warning",
                    f"{name}-warmup-not-covered",
                    f"the forcing of basin(s) {_basins(short)} starts less than "
                    f"{WINDOW_DAYS - 1} days before the {name} period {span}: the first days "
                    f"have no full {WINDOW_DAYS}-day input window",
                    short,
                )
            )


def _discharge(report: CheckReport, findings: list[Finding]) -> None:
    for name, level in (("train", "error"), ("eval", "warning")):
        period = getattr(report, f"{name}_period")
        empty = [b.basin for b in report.basins if getattr(b, f"{name}_missing_q") == 1.0]
        for b in report.basins:
            if b.basin in empty:
                b.problems.append(f"no observed {name} day")
        if not empty:
            continue
        fix = (
            f"remove these basins from the list {report.basin_file}"
            if level == "error"
            else "they are scored on no day"
        )
        findings.append(
            Finding(
                level,
                f"no-{name}-discharge",
                f"basin(s) {_basins(empty)} have no observed discharge in the {name} period "
                f"{period[0].date()}..{period[1].date()}: {fix}",
                empty,
            )
        )


def _areas(report: CheckReport, findings: list[Finding]) -> None:
    off = [
        b for b in report.basins if b.area_diff is not None and abs(b.area_diff) > AREA_TOLERANCE
    ]
    for b in off:
        b.problems.append("area differs")
    if off:
        what = ", ".join(f"{b.basin} ({100 * b.area_diff:+.0f} %)" for b in off[:10])
        findings.append(
            Finding(
                "warning",
                "area-mismatch",
                f"the forcing-header area differs from area_gages2 by more than "
                f"{100 * AREA_TOLERANCE:.0f} % for {len(off)} basin(s): {what}; discharge is "
                "converted to mm/day with the forcing-header area",
                [b.basin for b in off],
            )
        )


def _files(report: CheckReport, findings: list[Finding]) -> tuple[list, list]:
    """Index the forcing and streamflow folders; findings for basins without a file."""
    forcing_dir = report.root / camels.FORCING_DIR / report.forcing
    flow_dir = report.root / camels.STREAMFLOW_DIR
    for kind, folder in (("forcing", forcing_dir), ("streamflow", flow_dir)):
        index = camels.index_files(folder)
        absent = []
        for b in report.basins:
            path = index.get(b.basin)
            setattr(b, f"{kind}_file", None if path is None else str(path))
            if path is None:
                absent.append(b.basin)
                b.problems.append(f"no {kind} file")
        if absent:
            findings.append(
                Finding(
                    "error",
                    f"{kind}-file-missing",
                    f"{folder}: no {kind} file for basin(s) {_basins(absent)}: add the files or "
                    f"remove these basins from the list {report.basin_file}",
                    absent,
                )
            )
    ok = [b for b in report.basins if b.forcing_file and b.streamflow_file]
    return ok, [(Path(b.forcing_file), Path(b.streamflow_file)) for b in ok]


def check_tree(
    camels_root: str | os.PathLike,
    basin_file: str | os.PathLike,
    forcing: str = "maurer_extended",
    train_period: tuple = ("1999-10-01", "2008-09-30"),
    eval_period: tuple = ("1989-10-01", "1999-09-30"),
    workers: int | None = None,
) -> CheckReport:
    """Read every file the store of these basins needs and check it (module docstring).

    Raises
    ------
    DataError : only for what leaves nothing to check per basin (no root folder, an unknown
        forcing, an unreadable basin list, a bad period); everything else is a finding.
    """
    root = camels.check_root(camels_root, forcing)
    basins = camels.read_basin_list(basin_file)
    report = CheckReport(
        root=root,
        basin_file=Path(basin_file),
        forcing=forcing,
        train_period=build.parse_period("train", train_period),
        eval_period=build.parse_period("eval", eval_period),
        basins=[BasinCheck(b) for b in basins],
        attribute_files={},
        findings=[],
    )
    findings: list[Finding] = []
    table, report.attribute_files = _attribute_files(root, basins, findings)
    report.attributes = table
    if table is not None:
        _descriptors(report, table, findings)
    ok, files = _files(report, findings)
    read = (
        build.read_files(
            [b.basin for b in ok], *zip(*files, strict=True), workers=workers, reader=_read
        )
        if ok
        else []
    )
    data_of = dict(zip((b.basin for b in ok), read, strict=True))
    report.data = [data_of.get(b.basin) for b in report.basins]
    for b, data in zip(report.basins, report.data, strict=True):
        if isinstance(data, str):
            findings.append(Finding("error", "unreadable-file", data, [b.basin]))
            b.problems.append("unreadable file")
        elif data is not None:
            area = None
            if table is not None and b.basin in table.index and "area_gages2" in table:
                area = pd.to_numeric(table.loc[b.basin, "area_gages2"], errors="coerce")
            _series(report, b, data, area)
    _coverage(report, findings)
    _discharge(report, findings)
    _areas(report, findings)
    for b in report.basins:
        if b.missing_descriptors:
            b.problems.insert(0, "descriptor missing")
    report.findings = sorted(findings, key=lambda f: f.level != "error")
    return report
