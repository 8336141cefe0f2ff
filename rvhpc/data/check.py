"""Pre-flight checks of a download, in one pass over its files (``rvhpc data check``; ``prepare``
makes the same pass and writes each basin into the store as it is read).

Per listed basin: its files present and readable, the chosen descriptors complete, observed
discharge in the training and evaluation periods, complete inputs on every day of both periods
(a record that starts late or ends early has missing days there, never shifted ones) and on the
warm-up of a 270-day input window; plus the dataset's own rules (the attribute files and their
columns, CAMELS US's header area against ``area_gages2``, Caravan's roots and sub-datasets).

Errors stop ``prepare`` (no store is left behind); warnings do not. Findings of one rule are
gathered into one line naming the basins and the fix. Each file is read once, and only per-basin
summaries are kept: memory does not grow with the series.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rvhpc.data.check_report import (
    WINDOW_DAYS,
    BasinCheck,
    CheckReport,
    Finding,
    basin_names,
)
from rvhpc.data.datasets.base import BasinRecord, Dataset
from rvhpc.data.pool import ordered_map
from rvhpc.errors import DataError

_EPOCH = pd.Timestamp("1970-01-01")


def parse_period(name: str, period: tuple) -> tuple[pd.Timestamp, pd.Timestamp]:
    """(start, end) Timestamps of a --train/--eval period; DataError when it is not one."""
    try:
        start, end = (pd.Timestamp(p) for p in period)
    except (ValueError, TypeError) as exc:
        raise DataError(
            f"{name} period {period!r} is not a pair of YYYY-MM-DD dates ({exc})"
        ) from None
    if start > end:
        raise DataError(f"{name} period starts after it ends: {start.date()} > {end.date()}")
    return start.normalize(), end.normalize()


def new_report(source: Dataset, train_period: tuple, eval_period: tuple) -> CheckReport:
    """An empty report of ``source`` (periods checked)."""
    return CheckReport(
        dataset=source.name,
        source=source.describe(),
        roots=[str(r) for r in source.roots],
        options=dict(source.options),
        basin_file=str(source.basin_file),
        train_period=parse_period("train", train_period),
        eval_period=parse_period("eval", eval_period),
        basins=[BasinCheck(b) for b in source.basins],
    )


def _read(reader, *args) -> BasinRecord | tuple | str:
    """One basin's record, or the one-line reason its files cannot be read."""
    try:
        return reader(*args)
    except DataError as exc:
        return str(exc)


def _period_days(period: tuple[pd.Timestamp, pd.Timestamp]) -> np.ndarray:
    lo, hi = ((p - _EPOCH).days for p in period)
    return np.arange(lo, hi + 1)


def _summarise(report: CheckReport, check: BasinCheck, record: BasinRecord) -> None:
    first, last = (str((_EPOCH + pd.Timedelta(days=int(d))).date()) for d in record.days[[0, -1]])
    check.forcing_days = (first, last)
    complete = record.days[np.isfinite(record.x).all(axis=1)]
    observed = record.q_days[np.isfinite(record.q)]
    for name, period in (("train", report.train_period), ("eval", report.eval_period)):
        days = _period_days(period)
        setattr(check, f"{name}_missing_q", float(1 - np.isin(days, observed).mean()))
        check.gaps[name] = int((~np.isin(days, complete)).sum())
        warm = np.arange(days[0] - (WINDOW_DAYS - 1), days[0])
        check.warm_short[name] = bool((~np.isin(warm, complete)).any())


def check_source(
    source: Dataset,
    train_period: tuple,
    eval_period: tuple,
    sink=None,
    workers: int | None = None,
) -> CheckReport:
    """Read every file the store of ``source``'s basins needs and check it (module docstring).

    Parameters
    ----------
    source : the dataset reader
    train_period, eval_period : (first day, last day)
    sink : a :class:`~rvhpc.data.writer.StoreWriter` to write each basin into, or None (check)
    workers : reader processes (None: one per CPU for many basins)

    Raises
    ------
    DataError : only for a bad period; everything else is a finding.
    """
    report = new_report(source, train_period, eval_period)
    findings: list[Finding] = []
    table = source.attributes(report, findings)
    report.attributes = table
    if table is not None:
        _descriptor_values(source, report, table, findings)
    files = source.locate(report, findings)
    rows = [i for i, b in enumerate(report.basins) if b.basin in files]
    if sink is not None and any(f.level == "error" for f in findings):
        sink = None  # the store would not be kept: read on, to report everything
    args = [source.read_args(report.basins[i].basin, files[report.basins[i].basin]) for i in rows]
    if sink is not None:
        spans = ordered_map(_read, [(source.spanner, *a) for a in args], workers)
        sink.begin([s if isinstance(s, tuple) else None for s in spans], table)
    missing: dict[str, list[str]] = {}
    reads = ordered_map(_read, [(source.reader, *a) for a in args], workers)
    for i, result in zip(rows, reads, strict=True):
        check = report.basins[i]
        if isinstance(result, str):
            findings.append(Finding("error", "unreadable-file", result, [check.basin]))
            check.problems.append("unreadable file")
        elif isinstance(result, tuple):
            for column in result[2]:
                missing.setdefault(column, []).append(check.basin)
            check.problems.append("column missing")
        else:
            _summarise(report, check, result)
            source.check_basin(check, result, table)
            if sink is not None:
                sink.write(i, result)
    if missing:
        source.missing_columns(missing, findings)
    _coverage(source, report, findings)
    _discharge(report, findings)
    source.extra_findings(report, findings)
    for b in report.basins:
        if b.missing_descriptors:
            b.problems.insert(0, "descriptor missing")
    report.findings = sorted(findings, key=lambda f: f.level != "error")
    return report


def _descriptor_values(source: Dataset, report, table: pd.DataFrame, findings) -> None:
    present = [c for c in source.descriptors if c in table.columns]
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
                f"{source.attributes_where()}: {what}; a physics or mixed run would "
                f"train on NaN: remove these basins from the list {report.basin_file}",
                [b.basin for b in bad],
            )
        )


def _coverage(source: Dataset, report: CheckReport, findings: list[Finding]) -> None:
    """Period days without complete inputs are errors; missing warm-up days warnings."""
    word = source.series_label.split()[0]
    for name, period in (("train", report.train_period), ("eval", report.eval_period)):
        span = f"{period[0].date()}..{period[1].date()}"
        cut = [b for b in report.basins if b.gaps.get(name)]
        short = [b.basin for b in report.basins if not b.gaps.get(name) and b.warm_short.get(name)]
        for b in cut:
            b.problems.append(f"{name} period not covered")
        for b in report.basins:
            if b.basin in short:
                b.problems.append(f"{name} warm-up short")
        if cut:
            what = "; ".join(
                f"{b.basin} ({b.gaps[name]} day(s) missing, {word} {'..'.join(b.forcing_days)})"
                for b in cut[:10]
            )
            findings.append(
                Finding(
                    "error",
                    f"{name}-period-not-covered",
                    f"{source.series_where()}: the {source.series_label} of {len(cut)} basin(s) "
                    f"do not cover the {name} period {span}: {what}; a file cut short? download "
                    f"it again, or change --{name}-start/--{name}-end or remove these basins "
                    f"from the list {report.basin_file}",
                    [b.basin for b in cut],
                )
            )
        if short:
            findings.append(
                Finding(
                    "warning",
                    f"{name}-warmup-not-covered",
                    f"the {word} of basin(s) {basin_names(short)} starts less than "
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
                f"basin(s) {basin_names(empty)} have no observed discharge in the {name} period "
                f"{period[0].date()}..{period[1].date()}: {fix}",
                empty,
            )
        )
