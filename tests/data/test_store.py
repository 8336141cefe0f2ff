"""The basin store: round trip against the source files, slicing, scalers, reuse, rebuild and
concurrent prepare from several processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from rvhpc.cli import app
from rvhpc.data.camels import DESCRIPTORS, DYNAMIC_INPUTS
from rvhpc.data.store import FORMAT_VERSION, open_store, prepare_store, store_fingerprint
from rvhpc.errors import StoreError
from tests.data.handmade import AREAS, HAND_EVAL, HAND_TRAIN, N_DAYS, q_mm

REPO = Path(__file__).resolve().parents[2]


def _prepare(root: Path, out: Path) -> Path:
    return prepare_store(
        root, root / "basins.txt", out, train_period=HAND_TRAIN, eval_period=HAND_EVAL
    )


def _source_series(root: Path, basin: str) -> pd.DataFrame:
    """The basin's files parsed independently of rvhpc (plain split on whitespace)."""
    ffile = next((root / "basin_mean_forcing").rglob(f"{basin}*"))
    lines = ffile.read_text().splitlines()
    area = float(lines[2])
    rows = [ln.split() for ln in lines[4:] if ln.strip()]
    dates = pd.to_datetime([f"{r[0]}-{r[1]}-{r[2]}" for r in rows])
    frame = pd.DataFrame(
        {
            name: [float(r[i]) for r in rows]
            for name, i in zip(DYNAMIC_INPUTS, (5, 6, 8, 9, 10), strict=False)
        },
        index=dates,
    )
    qrows = [
        ln.split()
        for ln in next((root / "usgs_streamflow").rglob(f"{basin}*")).read_text().splitlines()
    ]
    q = pd.Series(
        [float(r[4]) for r in qrows], index=pd.to_datetime([f"{r[1]}-{r[2]}-{r[3]}" for r in qrows])
    )
    frame["qobs(mm/day)"] = q.where(q >= 0) * 0.0283168466 * 86400 / area * 1000
    return frame


def test_round_trip_show_matches_source_files(tiny_camels, tiny_store, tmp_path):
    basin = tiny_camels.basins[2]
    csv = tmp_path / "show.csv"
    result = CliRunner().invoke(
        app, ["data", "show", str(tiny_store), "--basin", basin, "--csv", str(csv)]
    )
    assert result.exit_code == 0, result.output
    shown = pd.read_csv(csv, index_col="date", parse_dates=True)
    source = _source_series(tiny_camels.root, basin)
    assert list(shown.columns) == [*DYNAMIC_INPUTS, "qobs(mm/day)"]
    assert shown.index.equals(source.index)
    np.testing.assert_allclose(shown.to_numpy(), source.to_numpy(), rtol=1e-5, equal_nan=True)
    assert shown["qobs(mm/day)"].isna().any()  # the synthetic -999 gaps come back empty
    printed = CliRunner().invoke(app, ["data", "show", str(tiny_store), "--basin", basin])
    assert printed.exit_code == 0 and "# aridity = " in printed.output
    first = printed.output.splitlines()[1].split(",")
    assert first[0] == "1998-01-01" and float(first[1]) == pytest.approx(source.iloc[0, 0])
    attrs = pd.read_csv(
        tiny_camels.root / "camels_attributes_v2.0" / "camels_clim.txt",
        sep=";",
        dtype={"gauge_id": str},
    ).set_index("gauge_id")
    line = next(ln for ln in printed.output.splitlines() if ln.startswith("# p_mean = "))
    assert float(line.split("=")[1]) == pytest.approx(attrs.loc[basin, "p_mean"], rel=1e-5)


def test_store_contents_and_scalers(handmade, tmp_path):
    out = _prepare(handmade, tmp_path / "s.h5")
    store = open_store(out)
    assert store.basins == ["01000001", "12000002"] and len(store.dates) == N_DAYS
    assert store.forcing.dtype == np.float32 and store.forcing.shape == (2, N_DAYS, 5)
    assert store.qobs[1, 0] == pytest.approx(q_mm(100, AREAS["12000002"]), rel=1e-6)
    assert np.isnan(store.qobs[:, 3]).all() and np.isnan(store.qobs[:, 5]).all()
    np.testing.assert_array_equal(store.area_m2, [AREAS["01000001"], AREAS["12000002"]])
    assert (
        store.descriptors.shape == (2, 27)
        and store.descriptors[1, DESCRIPTORS.index("aridity")] == 4.5
    )
    lo, hi = store.day_index(HAND_TRAIN[0]), store.day_index(HAND_TRAIN[1]) + 1
    q = store.qobs[:, lo:hi].astype(np.float64)
    assert store.y_mean == pytest.approx(np.nanmean(q), rel=1e-6)
    assert store.y_std == pytest.approx(np.nanstd(q), rel=1e-6)
    np.testing.assert_allclose(store.q_std, np.nanstd(q, axis=1), rtol=1e-6)
    np.testing.assert_allclose(
        store.x_mean, store.forcing[:, lo:hi].reshape(-1, 5).mean(0), rtol=1e-6
    )
    assert store.provenance["rvhpc_version"] and len(store.provenance["files"]) == 1 + 7 + 2 + 2
    assert all(len(v["sha256"]) == 64 for v in store.provenance["files"].values())


def test_open_store_period_slice(tiny_store):
    full = open_store(tiny_store)
    train = open_store(tiny_store, "train", warmup=269)
    assert train.dates[0] == pd.Timestamp("2000-10-01") - pd.Timedelta(days=269)
    assert train.dates[-1] == pd.Timestamp("2002-09-30")
    k = full.day_index(train.dates[0])
    np.testing.assert_array_equal(train.forcing, full.forcing[:, k : k + len(train.dates)])
    evaluation = open_store(tiny_store, "eval", warmup=10_000)  # clipped at the data start
    assert evaluation.dates[0] == full.dates[0] and evaluation.dates[-1] == pd.Timestamp(
        "2000-09-30"
    )
    assert train.nbytes < full.nbytes


def test_reuse_and_rebuild_when_an_input_changes(handmade, tmp_path):
    out = _prepare(handmade, tmp_path / "s.h5")
    fp, mtime = store_fingerprint(out), out.stat().st_mtime_ns
    assert (
        _prepare(handmade, out) == out and out.stat().st_mtime_ns == mtime
    )  # reused, not rewritten
    qfile = next((handmade / "usgs_streamflow").rglob("01000001*"))
    qfile.write_text(qfile.read_text().replace("  101.00 A", "  202.00 A"))
    _prepare(handmade, out)
    assert store_fingerprint(out) != fp
    assert open_store(out).qobs[0, 1] == pytest.approx(q_mm(202, AREAS["01000001"]), rel=1e-6)
    # other periods are another store content too
    fp2 = store_fingerprint(out)
    prepare_store(
        handmade,
        handmade / "basins.txt",
        out,
        train_period=("2000-01-21", "2000-02-09"),
        eval_period=HAND_EVAL,
    )
    assert store_fingerprint(out) != fp2


def test_refuses_other_format_version(handmade, tmp_path):
    out = _prepare(handmade, tmp_path / "s.h5")
    with h5py.File(out, "a") as f:
        f.attrs["format_version"] = FORMAT_VERSION + 1
    with pytest.raises(StoreError, match="rvhpc data prepare"):
        open_store(out)
    _prepare(handmade, out)  # an incompatible store is rebuilt
    assert open_store(out).basins == ["01000001", "12000002"]


_CHILD = """
import sys
from rvhpc.data.store import prepare_store
root, out = sys.argv[1], sys.argv[2]
print(prepare_store(root, root + "/basin_list.txt", out, train_period=("2000-10-01", "2002-09-30"),
                    eval_period=("1999-01-01", "2000-09-30")))
"""


def test_concurrent_prepare_builds_once(tiny_camels, tmp_path):
    out = tmp_path / "shared" / "store.h5"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(tiny_camels.root), str(out)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [r[1] for r in results]
    assert all(r[0].strip() == str(out) for r in results)
    logs = "".join(r[1] for r in results)
    assert logs.count("building ") == 1, logs
    assert sorted(p.name for p in out.parent.iterdir()) == ["store.h5", "store.h5.lock"]
    assert open_store(out).basins == tiny_camels.basins


def test_half_written_file_never_under_final_name(handmade, tmp_path, monkeypatch):
    """An interruption inside the real build (after a basin was written into the temporary file)
    leaves nothing under the final name, and the next prepare builds the store."""
    from rvhpc.data import prepare as prepare_mod

    real = prepare_mod.StoreWriter.write

    def interrupted(self, i, record):
        real(self, i, record)
        if i == 1:
            assert self.path.stat().st_size > 0  # a half-written temporary file exists now
            raise KeyboardInterrupt

    monkeypatch.setattr(prepare_mod.StoreWriter, "write", interrupted)
    out = tmp_path / "s.h5"
    with pytest.raises(KeyboardInterrupt):
        _prepare(handmade, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["camels", "s.h5.lock"]
    monkeypatch.setattr(prepare_mod.StoreWriter, "write", real)
    assert open_store(_prepare(handmade, out)).basins == ["01000001", "12000002"]
