"""Synthetic CAMELS US: exact layout and formats, determinism, and basins whose response is
explained by their descriptors."""

from __future__ import annotations

import filecmp

import numpy as np
from typer.testing import CliRunner

from rvhpc.cli import app
from rvhpc.data import attributes, camels
from rvhpc.data.attributes import ATTRIBUTE_COLUMNS as COLUMNS
from rvhpc.data.synth import synthesize


def _files(root):
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())


def test_layout_and_formats(tiny_camels):
    root = tiny_camels.root
    assert (
        len(tiny_camels.basins) == 4
        and camels.read_basin_list(tiny_camels.basin_file) == tiny_camels.basins
    )
    for basin in tiny_camels.basins:
        assert len(basin) == 8 and basin.isdigit()
        forcing = (
            root
            / "basin_mean_forcing"
            / "maurer_extended"
            / basin[:2]
            / f"{basin}_lump_maurer_forcing_leap.txt"
        )
        flow = root / "usgs_streamflow" / basin[:2] / f"{basin}_streamflow_qc.txt"
        lines = forcing.read_text().splitlines()
        assert int(lines[2]) > 0 and lines[3].split() == [
            "Year",
            "Mnth",
            "Day",
            "Hr",
            "dayl(s)",
            "prcp(mm/day)",
            "srad(W/m2)",
            "swe(mm)",
            "tmax(C)",
            "tmin(C)",
            "vp(Pa)",
        ]
        assert lines[4].split()[:4] == ["1998", "01", "01", "12"] and lines[-1].split()[:3] == [
            "2003",
            "12",
            "31",
        ]
        rows = [ln.split() for ln in flow.read_text().splitlines()]
        assert all(r[0] == basin and len(r) == 6 for r in rows)
        assert {r[5] for r in rows} <= {"A", "A:e", "M"}
        assert any(r[4] == "-999.00" and r[5] == "M" for r in rows)
    for group, cols in COLUMNS.items():
        header = (
            (root / "camels_attributes_v2.0" / f"camels_{group}.txt").read_text().splitlines()[0]
        )
        assert header.split(";") == ["gauge_id", *cols]
    attrs = attributes.read_attributes(root)
    table = attrs.loc[tiny_camels.basins, list(camels.DESCRIPTORS)].astype(np.float64)
    assert np.isfinite(table.to_numpy()).all()
    assert (attrs.loc[tiny_camels.basins, "huc_02"] == [b[:2] for b in tiny_camels.basins]).all()


def test_same_seed_same_files_other_seed_other_files(tmp_path):
    a = synthesize(tmp_path / "a", n_basins=2, start="2000-01-01", end="2000-12-31", seed=7)
    b = synthesize(tmp_path / "b", n_basins=2, start="2000-01-01", end="2000-12-31", seed=7)
    c = synthesize(tmp_path / "c", n_basins=2, start="2000-01-01", end="2000-12-31", seed=8)
    assert _files(a.root) == _files(b.root)
    match, mismatch, errors = filecmp.cmpfiles(
        a.root, b.root, [str(p) for p in _files(a.root)], shallow=False
    )
    assert not mismatch and not errors
    assert a.basins != c.basins


def test_descriptors_explain_the_response(tmp_path):
    r = synthesize(tmp_path / "s", n_basins=40, start="2000-01-01", end="2002-12-31", seed=5)
    attrs = attributes.read_attributes(r.root)
    d = attributes.descriptor_table(attrs, r.basins)
    bfi = attrs.loc[r.basins, "baseflow_index"].to_numpy(float)
    ratio = attrs.loc[r.basins, "runoff_ratio"].to_numpy(float)
    assert np.isnan(ratio).sum() == 1  # the one basin whose signatures are missing (not its BFI)
    assert bfi.max() - bfi.min() > 0.4 and np.nanmax(ratio) > 0.5 and np.nanmin(ratio) < 0.2

    def r2(y, columns):
        x = np.column_stack([np.ones(len(y)), *[d[c].to_numpy() for c in columns]])
        coef, *_ = np.linalg.lstsq(x, y, rcond=None)
        return 1 - (y - x @ coef).var() / y.var()

    # baseflow share is set by geology and soils, not by the weather
    assert (
        r2(
            bfi,
            [
                "geol_permeability",
                "soil_conductivity",
                "soil_depth_pelletier",
                "carbonate_rocks_frac",
            ],
        )
        > 0.7
    )
    assert r2(bfi, ["p_mean", "pet_mean"]) < 0.3


def test_cli_synth_then_read(tmp_path):
    out = tmp_path / "camels"
    result = CliRunner().invoke(
        app,
        [
            "data",
            "synth",
            str(out),
            "--basins",
            "2",
            "--start",
            "2001-01-01",
            "--end",
            "2001-06-30",
            "--seed",
            "3",
        ],
    )
    assert result.exit_code == 0, result.output
    basins = camels.read_basin_list(out / "basin_list.txt")
    forcing = camels.read_forcing(
        camels.index_files(out / "basin_mean_forcing" / "maurer_extended")[basins[0]]
    )
    assert len(forcing.data) == 181 and forcing.data["prcp(mm/day)"].min() >= 0
    q = camels.read_streamflow(
        camels.index_files(out / "usgs_streamflow")[basins[0]], forcing.area_m2
    )
    assert q.isna().any() and (q.dropna() >= 0).all()


def test_synthetic_tree_has_every_trait_of_the_published_files(tmp_path):
    r = synthesize(tmp_path / "s", n_basins=40, start="2000-01-01", end="2000-12-31", seed=2)
    folder = r.root / "camels_attributes_v2.0"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f"camels_{g}.txt" for g in COLUMNS] + ["readme.txt"]
    )
    attrs = attributes.read_attributes(r.root, r.basins)
    # NA in text and numeric non-descriptor columns, in about the published shares (of 671)
    assert attrs["geol_2nd_class"].isna().sum() == round(40 * 138 / 671)
    assert attrs["geol_porostiy"].isna().sum() == 1
    assert attrs["root_depth_50"].isna().sum() == attrs["root_depth_99"].isna().sum() == 1
    assert attrs["root_depth_50"].isna().equals(attrs["root_depth_99"].isna())
    assert np.isfinite(attributes.descriptor_table(attrs, r.basins).to_numpy()).all()
    signatures = attrs[list(COLUMNS["hydro"])]
    (blank,) = signatures.index[signatures.drop(columns="baseflow_index").isna().all(axis=1)]
    assert signatures.isna().sum().sum() == 12 and np.isfinite(
        signatures.loc[blank, "baseflow_index"]
    )
    text = (folder / "camels_geol.txt").read_text()
    assert ";NA;" in text and "nan" not in text.lower()
    assert attrs["dom_land_cover"].str.startswith("    ").all()
    names = attrs["gauge_name"]
    assert names.str.contains(",").all() and names.str.contains('"').any()
    assert names.str.contains("'").any()
    forcing = next((r.root / "basin_mean_forcing").rglob("*_forcing_leap.txt"))
    head = forcing.read_text().splitlines()[:5]
    # right-aligned numbers as published: "  44.82", " 133.00", " 587675987"
    assert head[0].startswith("  ") and int(head[2]) > 0
    assert [h == h.strip().rjust(w) for h, w in zip(head, (7, 7, 10), strict=False)] == [True] * 3
    assert head[3].count("\t") == 7 and head[4].count("\t") == 7
    flags = {}
    for path in (r.root / "usgs_streamflow").rglob("*.txt"):
        for line in path.read_text().splitlines():
            f = line.split()
            flags[f[5]] = flags.get(f[5], 0) + 1
            assert (f[4] == "-999.00") == (f[5] == "M")
            assert "  " in line  # runs of spaces before the right-aligned value
    assert set(flags) == {"A", "A:e", "M"}
    assert 0.01 < flags["A:e"] / sum(flags.values()) < 0.2
