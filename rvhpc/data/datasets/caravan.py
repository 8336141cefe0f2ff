"""The ``caravan`` dataset: Caravan and every dataset in its layout (its extensions, GRDC-Caravan;
../shared/notes/caravan-format.md), from one root or several.

``<root>/timeseries/{netcdf,csv}/<prefix>/<gauge_id>.{nc,csv}`` and
``<root>/attributes/<prefix>/attributes_*_<prefix>.csv``; a gauge id is ``<prefix>_<id>``, its
sub-dataset the folder named like its prefix, whatever the case (``GRDC_1159100`` lies in
``grdc/``). Each root's format is ``--format`` or, by default, netCDF where that tree exists, else
CSV. A gauge id found under two roots is refused, naming both files; so is an input, descriptor
or streamflow column that a sub-dataset lacks, a descriptor that is text or a class code, and a
missing descriptor value (one line each, naming the column and the basins).
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from rvhpc.data import basinlist
from rvhpc.data.check_report import CheckReport, Finding
from rvhpc.data.datasets import caravan_files as cf
from rvhpc.data.datasets.base import BasinRecord, Dataset
from rvhpc.errors import DataError


def is_caravan_id(basin: str) -> bool:
    """``<prefix>_<id>`` with a non-empty prefix and id, usable as a file name."""
    prefix, _, rest = basin.partition("_")
    return basinlist.plain_id(basin) and bool(prefix) and bool(rest)


def _by_prefix(basins: list[str]) -> str:
    """``3 basins (camels: 2, grdc: 1)``: how many basins of which sub-datasets."""
    counts: dict[str, int] = {}
    for b in basins:
        counts[Caravan.region(b)] = counts.get(Caravan.region(b), 0) + 1
    parts = ", ".join(f"{p}: {n}" for p, n in counts.items())
    return f"{len(basins)} basin(s) ({parts}; e.g. {', '.join(basins[:3])})"


class Caravan(Dataset):
    """Caravan-layout roots; option ``format`` (netcdf or csv; default per root, see above)."""

    name = "caravan"
    title = "Caravan"
    default_inputs = cf.DEFAULT_INPUTS
    default_descriptors = cf.DEFAULT_DESCRIPTORS
    reader = staticmethod(cf.read_series)
    spanner = staticmethod(cf.series_span)

    def __init__(self, roots, basin_file, inputs=None, descriptors=None, format=None, **options):
        if options:
            raise DataError(f"dataset caravan takes no option {', '.join(options)}")
        if format is not None and format not in cf.FORMATS:
            raise DataError(f"--format {format!r}: choose one of {', '.join(cf.FORMATS)}")
        inputs = [cf.v15(n) for n in inputs] if inputs else None
        descriptors = [cf.v15(n) for n in descriptors] if descriptors is not None else None
        super().__init__(roots, basin_file, inputs, descriptors, format=format)
        if not self.roots:
            raise DataError("give the Caravan root folder with --root (repeat it for extensions)")
        self.formats: dict[Path, str] = {}
        for root in self.roots:
            if not (root / "attributes").is_dir() or not (root / "timeseries").is_dir():
                raise DataError(
                    f"{root}: not a Caravan root (needs attributes/ and timeseries/); pass the "
                    "folder that holds them with --root"
                )
            trees = [f for f in cf.FORMATS if (root / "timeseries" / f).is_dir()]
            fmt = format or (trees[0] if trees else None)
            if fmt not in trees:
                have = ", ".join(trees) or "none"
                raise DataError(
                    f"{root / 'timeseries'}: no {fmt or 'netcdf or csv'} tree (found: {have}); "
                    "pass --format with one it has"
                )
            self.formats[root] = fmt
        if cf.TARGET in self.inputs:
            raise DataError("--inputs: streamflow is the target, not an input")

    @classmethod
    def read_basin_list(cls, path: str | os.PathLike) -> list[str]:
        return basinlist.read_basin_list(path, is_caravan_id, "Caravan gauge id (<prefix>_<id>)")

    @classmethod
    def region(cls, basin: str) -> str:
        """The sub-dataset of a gauge id: its prefix in lower case (``GRDC_1`` -> ``grdc``)."""
        return basin.partition("_")[0].lower()

    def _folder(self, root: Path, kind: str, prefix: str) -> Path | None:
        base = root / ("attributes" if kind == "attributes" else f"timeseries/{self.formats[root]}")
        if not base.is_dir():
            return None
        for entry in sorted(base.iterdir()):
            if entry.is_dir() and entry.name.lower() == prefix:
                return entry
        return None

    def series_where(self) -> str:
        return ", ".join(str(r / "timeseries" / f) for r, f in self.formats.items())

    def attributes_where(self) -> str:
        return ", ".join(str(r / "attributes") for r in self.roots)

    def cli_args(self) -> list[str]:
        args = ["--dataset", self.name]
        for root in self.roots:
            args += ["--root", str(root)]
        args += ["--basins", str(self.basin_file)]
        if self.options.get("format"):
            args += ["--format", self.options["format"]]
        return args + self.selection_args()

    # ---- time series ------------------------------------------------------------------------
    def locate(self, report: CheckReport, findings: list[Finding]) -> dict[str, list[Path]]:
        found: dict[str, list[Path]] = {}
        absent, twice = [], []
        folders: dict[tuple[Path, str], Path | None] = {}
        for b in report.basins:
            prefix = self.region(b.basin)
            hits = []
            for root in self.roots:
                key = (root, prefix)
                if key not in folders:
                    folders[key] = self._folder(root, "series", prefix)
                folder = folders[key]
                path = (
                    None if folder is None else folder / f"{b.basin}{cf.SUFFIX[self.formats[root]]}"
                )
                if path is not None and path.is_file():
                    hits.append(path)
            if len(hits) > 1:
                twice.append(f"{b.basin} ({hits[0]} and {hits[1]})")
                b.problems.append("found under two roots")
            elif hits:
                found[b.basin] = hits
                b.files.append(str(hits[0]))
            else:
                absent.append(b.basin)
                b.problems.append("no time-series file")
        if twice:
            findings.append(
                Finding(
                    "error",
                    "duplicate-gauge",
                    f"gauge id(s) found under two roots: {'; '.join(twice[:5])}; give each "
                    "gauge once (drop one root's copy, or the basin from the list)",
                    [t.split()[0] for t in twice],
                )
            )
        if absent:
            findings.append(
                Finding(
                    "error",
                    "series-file-missing",
                    f"{self.series_where()}: no time-series file for {_by_prefix(absent)}: add "
                    f"the files or remove these basins from the list {self.basin_file}",
                    absent,
                )
            )
        return found

    def read_args(self, basin: str, files: list[Path]) -> tuple:
        root = next(r for r in self.roots if files[0].is_relative_to(r))
        return (files[0], self.formats[root], self.inputs)

    def missing_columns(self, missing: dict[str, list[str]], findings: list[Finding]) -> None:
        """One finding per column some basins' files lack (basins by sub-dataset)."""
        for column, basins in missing.items():
            role = "the target" if column == cf.TARGET else "input"
            fix = (
                "remove these basins from the list"
                if column == cf.TARGET
                else "choose --inputs without it, or remove these basins from the list"
            )
            findings.append(
                Finding(
                    "error",
                    "input-missing",
                    f"{role} column {column!r} is missing from the time series of "
                    f"{_by_prefix(basins)} in {self.series_where()}; {fix} {self.basin_file}",
                    basins,
                )
            )

    # ---- attributes -------------------------------------------------------------------------
    def _attribute_folders(self) -> dict[str, list[Path]]:
        out: dict[str, list[Path]] = {}
        for prefix in dict.fromkeys(self.region(b) for b in self.basins):
            out[prefix] = [
                f for f in (self._folder(r, "attributes", prefix) for r in self.roots) if f
            ]
        return out

    def attribute_files(self) -> list[Path]:
        return [
            p for folders in self._attribute_folders().values() for f in folders
            for p in sorted(f.glob("*.csv"))
        ]  # fmt: skip

    def attributes(self, report: CheckReport, findings: list[Finding]) -> pd.DataFrame | None:
        from rvhpc.data.datasets.caravan_attrs import read_attributes

        return read_attributes(self, self._attribute_folders(), report, findings, _by_prefix)

    def basin_info(self, record: BasinRecord, table: pd.DataFrame, basin: str) -> list[float]:
        area = pd.to_numeric(table.loc[basin, "area"], errors="coerce") if "area" in table else None
        return [float(area) * 1e6 if area is not None and pd.notna(area) else float("nan")]
