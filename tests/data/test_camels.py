"""The CAMELS US reader on hand-made files with the quirks of the real ones."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rvhpc.data import attributes, camels
from rvhpc.data.camels import DESCRIPTORS, DYNAMIC_INPUTS
from rvhpc.errors import DataError
from tests.data.handmade import AREAS, BASINS, N_DAYS, forcing_text, make_tree


def test_constants():
    assert DYNAMIC_INPUTS == ("prcp(mm/day)", "srad(W/m2)", "tmax(C)", "tmin(C)", "vp(Pa)")
    assert len(DESCRIPTORS) == 27 and len(set(DESCRIPTORS)) == 27
    assert DESCRIPTORS[0] == "p_mean" and DESCRIPTORS[-1] == "gvf_diff"


def test_unit_conversion_against_hand_computed_values():
    # 100 cfs = 2.83168466 m3/s = 244657.554624 m3/day; over 1e8 m2 that is 2.44657554624 mm/day
    assert camels.cfs_to_mm_per_day(np.array([100.0]), 1e8)[0] == pytest.approx(
        2.44657554624, rel=1e-12
    )
    # the other form of reference.md: 28316846.592 * Q * 86400 / (area * 1e6)
    assert camels.cfs_to_mm_per_day(np.array([655.0]), 2_303_950_000)[0] == pytest.approx(
        28316846.592 * 655.0 * 86400 / (2_303_950_000 * 1e6), rel=1e-9
    )


def test_forcing_with_tabs_spaces_trailing_blanks(handmade):
    path = next((handmade / "basin_mean_forcing" / "maurer_extended").rglob("01000001_*"))
    f = camels.read_forcing(path)
    assert (f.latitude, f.elevation, f.area_m2) == (44.5, 250.5, AREAS["01000001"])
    assert len(f.data) == N_DAYS and f.data.index[0] == pd.Timestamp("2000-01-01")
    k = np.arange(N_DAYS)
    np.testing.assert_allclose(f.data["prcp(mm/day)"], np.round(k / 10, 2))
    np.testing.assert_allclose(f.data["srad(W/m2)"], 100 + k)
    np.testing.assert_allclose(f.data["tmax(C)"], np.round(10 + k / 100, 2))
    np.testing.assert_allclose(f.data["tmin(C)"], np.round(-1 - k / 100, 2))
    np.testing.assert_allclose(f.data["vp(Pa)"], 500 + k)


def test_forcing_header_case_insensitive(tmp_path):
    text = forcing_text("01000001").replace("prcp(mm/day)", "PRCP(mm/day)").replace("Dayl", "dayl")
    path = tmp_path / "01000001_lump_cida_forcing_leap.txt"
    path.write_text(text)
    assert "prcp(mm/day)" in camels.read_forcing(path).data.columns


def test_streamflow_flags_missing_negative_and_conversion(handmade):
    path = next((handmade / "usgs_streamflow").rglob("12000002_*"))
    q = camels.read_streamflow(path, AREAS["12000002"])
    assert len(q) == N_DAYS
    assert np.isnan(q.iloc[3]) and np.isnan(q.iloc[5])  # -999 (flag M) and a negative value
    assert q.iloc[7] == pytest.approx((100 + 7) * 0.0283168466 * 86400 / AREAS["12000002"] * 1000)
    assert q.iloc[0] == pytest.approx(
        100 * 0.0283168466 * 86400 / 250e6 * 1000
    )  # 0.978630... mm/day
    assert q.iloc[0] == pytest.approx(0.978630218496, rel=1e-10)
    assert q.isna().sum() == 2


@pytest.mark.parametrize("flat", [False, True])
def test_files_found_flat_or_in_huc_folders(tmp_path, flat):
    root = make_tree(tmp_path / "c", flat=flat)
    index = camels.index_files(root / "usgs_streamflow")
    assert sorted(index) == sorted(BASINS)
    assert (index["12000002"].parent.name == "12") is (not flat)


def test_attributes_joined_with_string_ids(handmade):
    attrs = attributes.read_attributes(handmade)
    assert list(attrs.index) == sorted(BASINS) and all(isinstance(b, str) for b in attrs.index)
    assert attrs.loc["01000001", "huc_02"] == "01"  # leading zeros kept
    table = attributes.descriptor_table(attrs, ["12000002", "01000001"])
    assert list(table.columns) == list(DESCRIPTORS) and list(table.index) == [
        "12000002",
        "01000001",
    ]
    assert table.loc["01000001", "p_mean"] == 0.0 and table.loc["12000002", "gvf_diff"] == 26.5


def test_basin_list_strips_blanks(tmp_path):
    path = tmp_path / "list.txt"
    path.write_text("01000001  \n\t12000002\n\n")
    assert camels.read_basin_list(path) == ["01000001", "12000002"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "basin list is empty"),
        ("01000001\n12000002\n01000001\n", ":3: basin 01000001 is listed twice (first on line 1)"),
        ("01000001\n1200002\n", ":2: '1200002' is not an 8-digit basin id"),
    ],
)
def test_basin_list_errors(tmp_path, text, message):
    path = tmp_path / "list.txt"
    path.write_text(text)
    with pytest.raises(DataError, match=None) as info:
        camels.read_basin_list(path)
    assert message in str(info.value) and str(path) in str(info.value)


def test_malformed_rows_name_file_and_line(tmp_path):
    lines = forcing_text("01000001").splitlines()
    lines[6] = lines[6].replace("36000.00", "36x00")  # data row 3 = file line 7
    path = tmp_path / "01000001_f.txt"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as info:
        camels.read_forcing(path)
    assert f"{path}:7" in str(info.value)
    lines = forcing_text("01000001").splitlines()
    lines[8] += " 1.0 2.0"  # too many fields on file line 9
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as info:
        camels.read_forcing(path)
    assert f"{path}:9" in str(info.value) and "malformed row" in str(info.value)


def test_forcing_without_area_line(tmp_path):
    path = tmp_path / "01000001_f.txt"
    path.write_text(forcing_text("01000001", area=None))
    with pytest.raises(DataError, match="catchment area"):
        camels.read_forcing(path)


def test_unknown_forcing_and_missing_folders(handmade):
    with pytest.raises(DataError, match="unknown forcing"):
        camels.check_root(handmade, "cida")
    with pytest.raises(DataError, match="daymet: folder missing"):
        camels.check_root(handmade, "daymet")
    assert camels.check_root(handmade) == handmade
