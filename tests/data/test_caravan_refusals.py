"""Every refusal of a Caravan download through the real CLI: one line each, naming the file,
column or basins and the fix; ``prepare`` leaves no store behind; ``check`` reports them all."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rvhpc.cli import app
from tests.conftest import CARAVAN_EVAL, CARAVAN_TRAIN

PERIODS = [
    "--train-start", CARAVAN_TRAIN[0], "--train-end", CARAVAN_TRAIN[1],
    "--eval-start", CARAVAN_EVAL[0], "--eval-end", CARAVAN_EVAL[1],
]  # fmt: skip


def _copy(tiny_caravan, tmp_path: Path) -> Path:
    root = tmp_path / "Caravan"
    shutil.copytree(tiny_caravan.root, root)
    return root


def _prepare(root: Path, tmp_path: Path, *extra, listed: Path | None = None, periods=PERIODS):
    out = tmp_path / "out" / "store.h5"
    listed = listed or root / "basin_list.txt"
    args = ["data", "prepare", "--dataset", "caravan", "--root", str(root), "--basins",
            str(listed), *map(str, extra), *periods, "--out", str(out)]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in result.output, result.stderr
    assert not out.exists() and not list(out.parent.glob(".store.h5.*"))  # nothing left behind
    return errors[0]


def _first(basins: list[str], prefix: str) -> str:
    return next(b for b in basins if b.lower().startswith(prefix))


def test_gauge_under_two_roots_names_both_files(tiny_caravan, tmp_path):
    root = _copy(tiny_caravan, tmp_path)
    ext = tmp_path / "extension"
    grdc = _first(tiny_caravan.basins, "grdc_")
    shutil.copytree(root / "timeseries/netcdf/grdc", ext / "timeseries/netcdf/grdc")
    (ext / "attributes").mkdir()
    line = _prepare(root, tmp_path, "--root", ext)
    assert grdc in line and "under two roots" in line
    assert str(root / "timeseries/netcdf/grdc" / f"{grdc}.nc") in line
    assert str(ext / "timeseries/netcdf/grdc" / f"{grdc}.nc") in line


def test_input_a_subdataset_lacks_names_column_and_basins(tiny_caravan, tmp_path):
    fao = "potential_evaporation_sum_FAO_PENMAN_MONTEITH"  # not in the v1.4 generation
    line = _prepare(tiny_caravan.root, tmp_path, "--inputs", f"total_precipitation_sum,{fao}")
    assert fao in line and "lamah: 1" in line and "--inputs" in line


def test_descriptor_a_subdataset_lacks(tiny_caravan, tmp_path):
    line = _prepare(tiny_caravan.root, tmp_path, "--descriptors", "p_mean,pet_mean_FAO_PM")
    assert "'pet_mean_FAO_PM'" in line and "lamah: 1" in line


@pytest.mark.parametrize(
    "column, words", [("gauge_name", "text column"), ("glc_cl_smj", "class code")]
)
def test_text_and_class_descriptors(tiny_caravan, tmp_path, column, words):
    line = _prepare(tiny_caravan.root, tmp_path, "--descriptors", f"p_mean,{column}")
    assert column in line and words in line


def test_all_nan_basin_and_missing_descriptor_all_at_once(tiny_caravan, tmp_path):
    listed = tiny_caravan.root / "basin_list_all.txt"
    (blank,) = set(listed.read_text().split()) - set(tiny_caravan.basins)
    line = _prepare(tiny_caravan.root, tmp_path, listed=listed)
    assert blank in line and "cly_pc_sav" in line and "1 more error(s)" in line
    check = CliRunner().invoke(app, [
        "data", "check", "--dataset", "caravan", "--root", str(tiny_caravan.root), "--basins",
        str(listed), *PERIODS, "--json",
    ])  # fmt: skip
    assert check.exit_code == 1
    rules = {f["rule"]: f for f in json.loads(check.stdout)["errors"]}
    assert set(rules) == {"descriptor-missing", "no-train-discharge"}
    assert rules["no-train-discharge"]["basins"] == [blank]


def test_period_a_late_record_misses(tiny_caravan, tmp_path):
    early = ["--train-start", "1995-03-01", "--train-end", "1996-12-31",
             "--eval-start", "1999-01-01", "--eval-end", "1999-12-31"]  # fmt: skip
    line = _prepare(tiny_caravan.root, tmp_path, periods=early)
    assert "do not cover the train period" in line and "day(s) missing" in line


def test_format_tree_absent(tiny_caravan, tmp_path):
    root = _copy(tiny_caravan, tmp_path)
    shutil.rmtree(root / "timeseries/csv")
    line = _prepare(root, tmp_path, "--format", "csv")
    assert "no csv tree" in line and "--format" in line


def test_not_a_gauge_id(tiny_caravan, tmp_path):
    listed = tmp_path / "list.txt"
    listed.write_text("camels_01022500\n01022500\n")
    line = _prepare(tiny_caravan.root, tmp_path, listed=listed)
    assert f"{listed}:2" in line and "Caravan gauge id" in line


@pytest.mark.parametrize(
    "damage, words",
    [
        (lambda p: p.write_bytes(b"CDF\x05" + p.read_bytes()[4:]), ["CDF-5", "re-save"]),
        (lambda p: p.write_bytes(b"not a netCDF file at all"), ["not netCDF"]),
    ],
)
def test_unreadable_netcdf(tiny_caravan, tmp_path, damage, words):
    root = _copy(tiny_caravan, tmp_path)
    path = next((root / "timeseries/netcdf/camels").glob("*.nc"))
    damage(path)
    line = _prepare(root, tmp_path)
    assert str(path) in line and all(w in line for w in words)


def test_date_units_are_decoded_never_assumed(tiny_caravan, tmp_path):
    import h5py

    root = _copy(tiny_caravan, tmp_path)
    path = next((root / "timeseries/netcdf/camelsaus").glob("*.nc"))
    with h5py.File(path, "r+") as f:
        f["date"].attrs["units"] = "days after the flood"
    line = _prepare(root, tmp_path)
    assert str(path) in line and "will not guess an epoch" in line
