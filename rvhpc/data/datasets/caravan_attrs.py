"""Caravan's attribute files, read for the listed basins: every ``*.csv`` of a sub-dataset's
folder joined column-wise on ``gauge_id``, sub-datasets (and roots) stacked row-wise with the union
of their columns, and the chosen descriptors checked (present in every sub-dataset, numbers, not
class codes). Missing values of a chosen descriptor are checked with the other datasets' (scan)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from rvhpc.data.check_report import CheckReport, Finding
from rvhpc.data.datasets import caravan_files as cf
from rvhpc.errors import DataError

#: HydroATLAS class columns (``glc_cl_smj``): integer codes of categories, not quantities
_CLASS = re.compile(r"^[a-z]{3}_cl_[a-z]{3}$")


def _folder_table(folder: Path, report: CheckReport, findings: list[Finding]):
    """The folder's files joined column-wise (None when one is unreadable)."""
    joined = None
    files = sorted(folder.glob("*.csv"))
    if not files:
        findings.append(Finding("error", "attribute-file", f"{folder}: no attribute file (*.csv)"))
        return None
    for path in files:
        report.attribute_files[str(path)] = dict(path=str(path), present=True, missing_columns=[])
        try:
            table = cf.read_attribute_csv(path)
        except DataError as exc:
            findings.append(Finding("error", "attribute-file", str(exc)))
            return None
        if joined is None:
            joined = table
        else:
            table = table.drop(columns=[c for c in table.columns if c in joined.columns])
            joined = joined.join(table, how="outer")
    return joined


def read_attributes(
    source: Any,
    folders: dict[str, list[Path]],
    report: CheckReport,
    findings: list[Finding],
    by_prefix: Callable[[list[str]], str],
) -> pd.DataFrame | None:
    """The attribute table of the listed basins (module docstring); findings for what is wrong."""
    listed: dict[str, list[str]] = {}
    for b in source.basins:
        listed.setdefault(source.region(b), []).append(b)
    parts, columns_of, seen = [], {}, {}
    usable = True
    for prefix, found in folders.items():
        if not found:
            findings.append(
                Finding(
                    "error",
                    "attribute-folder-missing",
                    f"{source.attributes_where()}: no attribute folder for sub-dataset {prefix} "
                    f"({by_prefix(listed[prefix])}); add it or remove these basins from the list",
                    listed[prefix],
                )
            )
            continue
        for folder in found:
            table = _folder_table(folder, report, findings)
            if table is None:
                usable = False
                continue
            rows = table.loc[table.index.intersection(listed[prefix])]
            twice = [b for b in rows.index if b in seen]
            if twice:
                findings.append(
                    Finding(
                        "error",
                        "duplicate-gauge",
                        f"gauge id(s) {', '.join(twice[:5])} in the attributes of two roots "
                        f"({seen[twice[0]]} and {folder}); give each gauge once",
                        twice,
                    )
                )
            seen.update({b: folder for b in rows.index})
            columns_of.setdefault(prefix, set()).update(table.columns)
            parts.append(rows)
    if not usable or not parts:
        return None
    table = pd.concat(parts, axis=0, sort=False)
    table = table[~table.index.duplicated()]
    unlisted = [b for b in source.basins if b not in table.index]
    if unlisted:
        findings.append(
            Finding(
                "error",
                "basin-not-in-attributes",
                f"{source.attributes_where()}: no attribute row for {by_prefix(unlisted)}",
                unlisted,
            )
        )
    _descriptors(source, table, columns_of, listed, findings, by_prefix)
    return table.reindex([b for b in source.basins if b in table.index])


def _descriptors(source, table, columns_of, listed, findings, by_prefix) -> None:
    for column in source.descriptors:
        lacking = [p for p in listed if p in columns_of and column not in columns_of[p]]
        if lacking:
            basins = [b for p in lacking for b in listed[p]]
            findings.append(
                Finding(
                    "error",
                    "descriptor-column",
                    f"descriptor {column!r} is missing from the attribute files of "
                    f"{by_prefix(basins)}; choose --descriptors without it, or remove these "
                    "basins from the list",
                    basins,
                )
            )
        elif column in cf.TEXT_COLUMNS or _is_text(table, column):
            findings.append(
                Finding(
                    "error",
                    "descriptor-text",
                    f"descriptor {column!r} is a text column, not a number; choose numeric "
                    "--descriptors (text never enters the static vectors)",
                )
            )
        elif _CLASS.match(column):
            findings.append(
                Finding(
                    "error",
                    "descriptor-class",
                    f"descriptor {column!r} is a HydroATLAS class code (a category, not a "
                    "quantity); choose another column, or encode it yourself",
                )
            )


def _is_text(table: pd.DataFrame, column: str) -> bool:
    """A column holding a value that is not a number."""
    if column not in table or pd.api.types.is_numeric_dtype(table[column]):
        return False
    values = table[column]
    return bool((pd.to_numeric(values, errors="coerce").isna() & values.notna()).any())
