"""Caravan through the real CLI on a synthetic root with every trait of the published files:
check, prepare and show in both trees, against an independent pandas reading of the CSV files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from rvhpc.cli import app
from rvhpc.data.datasets.caravan_files import DEFAULT_DESCRIPTORS, DEFAULT_INPUTS, RENAMED
from rvhpc.data.store import open_store
from rvhpc.data.storeinfo import store_attributes
from tests.conftest import CARAVAN_EVAL, CARAVAN_TRAIN

PERIODS = [
    "--train-start", CARAVAN_TRAIN[0], "--train-end", CARAVAN_TRAIN[1],
    "--eval-start", CARAVAN_EVAL[0], "--eval-end", CARAVAN_EVAL[1],
]  # fmt: skip


def invoke(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args])


def pandas_series(root: Path, basin: str) -> pd.DataFrame:
    """The basin's CSV read by plain pandas: v1.4 names under v1.5 names, target in mm/day."""
    folder = basin.partition("_")[0].lower()
    frame = pd.read_csv(root / "timeseries" / "csv" / folder / f"{basin}.csv", index_col="date")
    frame.index = pd.to_datetime(frame.index)
    frame = frame.rename(columns=RENAMED)
    return frame[[*DEFAULT_INPUTS, "streamflow"]].rename(columns={"streamflow": "qobs(mm/day)"})


@pytest.mark.parametrize("fmt", ["netcdf", "csv"])
def test_check_prepare_show_equal_pandas(tiny_caravan, tmp_path, fmt):
    root, listed = tiny_caravan.root, tiny_caravan.basin_file
    source = ["--dataset", "caravan", "--root", root, "--basins", listed, "--format", fmt]
    report = invoke("data", "check", *source, *PERIODS, "--json")
    assert report.exit_code == 0, report.output
    data = json.loads(report.stdout)
    assert data["ok"] and [b["basin"] for b in data["basins"]] == tiny_caravan.basins
    out = tmp_path / "store.h5"
    prep = invoke("data", "prepare", *source, *PERIODS, "--out", out)
    assert prep.exit_code == 0, prep.output
    store = open_store(out)
    assert store.basins == tiny_caravan.basins and store.inputs == list(DEFAULT_INPUTS)
    assert store.descriptor_names == list(DEFAULT_DESCRIPTORS) and store.n_inputs == 5
    assert any(b.startswith("GRDC_") for b in store.basins)  # upper-case id, folder grdc
    for basin in store.basins:
        csv = tmp_path / f"{basin}.csv"
        shown = invoke("data", "show", out, "--basin", basin, "--csv", csv)
        assert shown.exit_code == 0, shown.output
        got = pd.read_csv(csv, index_col="date", parse_dates=True)
        want = pandas_series(root, basin).reindex(got.index)  # missing days, never shifted ones
        assert list(got.columns) == [*DEFAULT_INPUTS, "qobs(mm/day)"]
        np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=1e-6, equal_nan=True)
        assert got["qobs(mm/day)"].isna().any()  # NaN streamflow stretches come back empty


def test_late_start_early_end_give_missing_days(caravan_store, tiny_caravan):
    store = open_store(caravan_store)
    first, last = store.dates[0], store.dates[-1]
    spans = {}
    for i, basin in enumerate(store.basins):
        rows = np.flatnonzero(np.isfinite(store.forcing[i]).all(axis=1))
        spans[basin] = (store.dates[rows[0]], store.dates[rows[-1]])
        csv = pandas_series(tiny_caravan.root, basin)
        assert spans[basin] == (csv.index[0], csv.index[-1])
    assert any(s[0] > first for s in spans.values()), "a record that starts late"
    assert any(s[1] < last for s in spans.values()), "a record that ends early"


def test_netcdf3_and_netcdf4_give_the_csv_values(tiny_caravan, caravan_store, tmp_path):
    nc3 = [p for p in (tiny_caravan.root / "timeseries/netcdf").rglob("*.nc")
           if p.read_bytes()[:4] == b"CDF\x02"]  # fmt: skip
    assert len(nc3) == 1  # one file re-saved as netCDF-3 (64-bit offset)
    assert nc3[0].stem in tiny_caravan.basins
    csv_store = tmp_path / "csv.h5"
    prep = invoke(
        "data", "prepare", "--dataset", "caravan", "--root", tiny_caravan.root, "--basins",
        tiny_caravan.basin_file, "--format", "csv", *PERIODS, "--out", csv_store,
    )  # fmt: skip
    assert prep.exit_code == 0, prep.output
    a, b = open_store(caravan_store), open_store(csv_store)
    # float32 of the 2-decimal values in netCDF, shortest text in CSV: equal after float32
    np.testing.assert_array_equal(a.forcing, b.forcing)
    np.testing.assert_array_equal(a.qobs, b.qobs)
    assert a.fingerprint != b.fingerprint


def test_text_never_enters_numbers(caravan_store, tiny_caravan):
    attrs = store_attributes(caravan_store)
    names = attrs["gauge_name"]
    assert any('"' in n and "," in n for n in names.dropna())  # a quote and a comma, as written
    assert names.isna().sum() == 1  # an empty gauge name stays missing, never the text "nan"
    assert set(attrs["country"]) >= {"Austria", "Germany"}
    assert attrs.index.tolist() == tiny_caravan.basins
    raw = pd.concat(
        pd.read_csv(p, dtype={"gauge_id": str, "gauge_name": str}).set_index("gauge_id")
        for p in (tiny_caravan.root / "attributes").rglob("attributes_other_*.csv")
    )
    pd.testing.assert_series_equal(
        names, raw.loc[attrs.index, "gauge_name"], check_names=False, check_dtype=False
    )


def test_v14_names_read_under_v15_names(caravan_store, tiny_caravan):
    lamah = [b for b in tiny_caravan.basins if b.startswith("lamah_")]
    header = (tiny_caravan.root / "timeseries/csv/lamah" / f"{lamah[0]}.csv").read_text()
    assert "potential_evaporation_sum," in header.splitlines()[0]  # the v1.4 generation
    store = open_store(caravan_store)
    i = store.basins.index(lamah[0])
    k = store.descriptor_names.index("pet_mean_ERA5_LAND")
    raw = pd.read_csv(tiny_caravan.root / "attributes/lamah/attributes_caravan_lamah.csv")
    raw = raw.set_index("gauge_id")
    assert store.descriptors[i, k] == pytest.approx(raw.loc[lamah[0], "pet_mean"], rel=1e-12)


def test_several_roots_and_their_spelling(tiny_caravan, tmp_path):
    """Caravan and an extension as separate roots: the same store as one merged root."""
    import shutil

    core, ext = tmp_path / "Caravan", tmp_path / "GRDC_Caravan_extension"
    shutil.copytree(tiny_caravan.root, core)
    for sub in ("attributes", "timeseries/netcdf", "timeseries/csv"):
        (ext / sub).mkdir(parents=True)
        shutil.move(core / sub / "grdc", ext / sub / "grdc")
    out = tmp_path / "two.h5"
    prep = invoke(
        "data", "prepare", "--dataset", "caravan", "--root", core, "--root", ext, "--basins",
        tiny_caravan.basin_file, *PERIODS, "--out", out,
    )  # fmt: skip
    assert prep.exit_code == 0, prep.output
    store = open_store(out)
    assert store.basins == tiny_caravan.basins and len(store.provenance["roots"]) == 2
