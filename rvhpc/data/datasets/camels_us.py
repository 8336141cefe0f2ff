"""The ``camels_us`` dataset: CAMELS US (forcings, USGS streamflow, the seven attribute files), as
rvhpc has always read it (reference.md section 2; rvhpc/data/camels.py, attributes.py).

Default inputs are the study's five Maurer forcings and the default descriptors its 27 physical
descriptors; ``--inputs`` picks other forcing columns, ``--descriptors`` other numeric attribute
columns. Discharge (cfs) becomes mm/day with the forcing file's header area.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pandas as pd

from rvhpc.data import attributes as attrs_io
from rvhpc.data import camels
from rvhpc.data.check_report import (
    AREA_TOLERANCE,
    BasinCheck,
    CheckReport,
    Finding,
    basin_names,
)
from rvhpc.data.datasets.base import BasinRecord, Dataset
from rvhpc.errors import DataError

#: forcing columns that can be inputs (the date columns cannot)
INPUT_COLUMNS = tuple(c for c in camels.FORCING_HEADER if c not in ("Year", "Mnth", "Day", "Hr"))
#: attribute columns that hold text (never descriptors)
TEXT_COLUMNS = (
    "huc_02", "gauge_name", "high_prec_timing", "low_prec_timing", "geol_1st_class",
    "geol_2nd_class", "dom_land_cover",
)  # fmt: skip


def read_camels_basin(forcing_file: Path, flow_file: Path, inputs: tuple[str, ...]) -> BasinRecord:
    """One basin's forcing and streamflow files (each read once: hashed from the parsed bytes)."""
    fbytes, qbytes = forcing_file.read_bytes(), flow_file.read_bytes()
    forcing = camels.read_forcing_arrays(forcing_file, fbytes, inputs)
    q_days, q = camels.read_streamflow_arrays(flow_file, forcing.area_m2, qbytes)
    cols = [forcing.columns.index(c) for c in inputs]
    return BasinRecord(
        days=forcing.days,
        x=forcing.values[:, cols].astype(np.float32),
        q_days=q_days,
        q=q.astype(np.float32),
        info=dict(area_m2=forcing.area_m2, latitude=forcing.latitude, elevation=forcing.elevation),
        hashes={
            str(forcing_file): hashlib.sha256(fbytes).hexdigest(),
            str(flow_file): hashlib.sha256(qbytes).hexdigest(),
        },
    )


def camels_span(forcing_file: Path, flow_file: Path, inputs: tuple[str, ...]):
    """The forcing file's first and last day (the inputs' rows)."""
    return camels.forcing_span(forcing_file)


class CamelsUS(Dataset):
    """CAMELS US: one root, forcing product ``forcing`` (``maurer_extended`` by default)."""

    name = "camels_us"
    title = "CAMELS US"
    series_label = "forcing files"
    info_names = ("area_m2", "latitude", "elevation")
    default_inputs = camels.DYNAMIC_INPUTS
    default_descriptors = camels.DESCRIPTORS
    reader = staticmethod(read_camels_basin)
    spanner = staticmethod(camels_span)

    def __init__(self, roots, basin_file, inputs=None, descriptors=None, forcing=None, **options):
        if options:
            raise DataError(f"dataset camels_us takes no option {', '.join(options)}")
        if len(roots) != 1:
            raise DataError("CAMELS US has one root folder: give --camels-root (or --root) once")
        forcing = forcing or "maurer_extended"
        self.root = camels.check_root(roots[0], forcing)
        super().__init__(roots, basin_file, inputs, descriptors, forcing=forcing)
        odd = [c for c in self.inputs if c not in INPUT_COLUMNS]
        if odd:
            raise DataError(
                f"--inputs: {', '.join(odd)} not a CAMELS US forcing column; choose from "
                f"{', '.join(INPUT_COLUMNS)}"
            )
        known = {c for cols in attrs_io.ATTRIBUTE_COLUMNS.values() for c in cols}
        odd = [c for c in self.descriptors if c not in known or c in TEXT_COLUMNS]
        if odd:
            raise DataError(
                f"--descriptors: {', '.join(odd)} not a numeric CAMELS US attribute column "
                "(see camels_attributes_v2.0)"
            )

    @classmethod
    def read_basin_list(cls, path: str | os.PathLike) -> list[str]:
        return camels.read_basin_list(path)

    @property
    def forcing_dir(self) -> Path:
        return self.root / camels.FORCING_DIR / self.options["forcing"]

    def series_where(self) -> str:
        return str(self.forcing_dir)

    def attributes_where(self) -> str:
        return str(self.root / camels.ATTRIBUTE_DIR)

    def cli_args(self) -> list[str]:
        args = ["--camels-root", str(self.root), "--basins", str(self.basin_file)]
        args += ["--forcing", self.options["forcing"]]
        return args + self.selection_args()

    def locate(self, report: CheckReport, findings: list[Finding]) -> dict[str, list[Path]]:
        found: dict[str, list[Path]] = {b.basin: [] for b in report.basins}
        for kind, folder in (
            ("forcing", self.forcing_dir),
            ("streamflow", self.root / camels.STREAMFLOW_DIR),
        ):
            index = camels.index_files(folder)
            absent = []
            for b in report.basins:
                path = index.get(b.basin)
                if path is None:
                    absent.append(b.basin)
                    b.problems.append(f"no {kind} file")
                else:
                    found[b.basin].append(path)
                    b.files.append(str(path))
            if absent:
                findings.append(
                    Finding(
                        "error",
                        f"{kind}-file-missing",
                        f"{folder}: no {kind} file for basin(s) {basin_names(absent)}: add the "
                        f"files or remove these basins from the list {self.basin_file}",
                        absent,
                    )
                )
        return {b: files for b, files in found.items() if len(files) == 2}

    def fingerprint_fields(self, located: dict, periods: list, stats) -> dict | None:
        """With the default inputs and descriptors, the fields rvhpc 0.1.0 hashed for these
        inputs (its format 1): the store holds the same values (tests/data/test_store_scale.py),
        so runs trained on a format-1 store resume and rescore on the rebuilt one."""
        if self.inputs != self.default_inputs or self.descriptors != self.default_descriptors:
            return None
        files = [self.basin_file, *self.attribute_files()]
        files += [located[b][0] for b in self.basins if b in located]
        files += [located[b][1] for b in self.basins if b in located]
        return dict(
            format=1,
            forcing=self.options["forcing"],
            basins=self.basins,
            train=periods[0],
            eval=periods[1],
            files=stats(files),
        )

    def read_args(self, basin: str, files: list[Path]) -> tuple:
        return (files[0], files[1], self.inputs)

    def attribute_files(self) -> list[Path]:
        return [attrs_io.attribute_file(self.root, g) for g in attrs_io.ATTRIBUTE_GROUPS]

    def attributes(self, report: CheckReport, findings: list[Finding]) -> pd.DataFrame | None:
        tables = []
        for group in attrs_io.ATTRIBUTE_GROUPS:
            path = attrs_io.attribute_file(self.root, group)
            entry = report.attribute_files[group] = dict(
                path=str(path), present=path.is_file(), missing_columns=[]
            )
            try:
                table = attrs_io.read_attribute_file(path)
            except DataError as exc:
                message = f"{exc}; download camels_attributes_v2.0 again"
                findings.append(Finding("error", "attribute-file", message))
                continue
            absent = [c for c in attrs_io.ATTRIBUTE_COLUMNS[group] if c not in table.columns]
            entry["missing_columns"] = absent
            lost = [c for c in absent if c in self.descriptors]
            if lost:
                message = (
                    f"{path}: lacks the descriptor column(s) {', '.join(lost)}; download "
                    "camels_attributes_v2.0 again"
                )
                findings.append(Finding("error", "descriptor-column", message))
            elif absent:
                message = f"{path}: lacks the published column(s) {', '.join(absent)}"
                findings.append(Finding("warning", "attribute-column", message))
            unlisted = [b for b in self.basins if b not in table.index]
            if unlisted:
                message = f"{path}: no row for listed basin(s) {basin_names(unlisted)}"
                findings.append(Finding("error", "basin-not-in-attributes", message, unlisted))
            tables.append(table)
        if len(tables) < len(attrs_io.ATTRIBUTE_GROUPS):
            return None
        joined = tables[0]
        for table in tables[1:]:
            joined = joined.join(table.drop(columns=[c for c in table if c in joined]), how="outer")
        return joined

    def check_basin(self, check: BasinCheck, record: BasinRecord, table: pd.DataFrame | None):
        if table is None or check.basin not in table.index or "area_gages2" not in table:
            return
        area_km2 = pd.to_numeric(table.loc[check.basin, "area_gages2"], errors="coerce")
        if np.isfinite(area_km2) and area_km2 > 0:
            check.area_diff = float(record.info["area_m2"] / 1e6 / area_km2 - 1)

    def extra_findings(self, report: CheckReport, findings: list[Finding]) -> None:
        off = [
            b
            for b in report.basins
            if b.area_diff is not None and abs(b.area_diff) > AREA_TOLERANCE
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
