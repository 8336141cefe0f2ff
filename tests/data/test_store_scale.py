"""The store at scale (issue 22): a CAMELS US store holds the values of the build before the
streaming one, the arrays do not depend on the build's batch size, two training processes read
the same mapped bytes, and a full disk gives one line and no store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from rvhpc.data.store import open_store, prepare_store
from rvhpc.data.writer import check_free_space
from rvhpc.errors import StoreError
from tests.conftest import CARAVAN_EVAL, CARAVAN_TRAIN, TINY_EVAL, TINY_TRAIN

REPO = Path(__file__).resolve().parents[2]
#: dataset sha256 (dtype, shape, values) of ``tiny_store`` built by rvhpc at 4605e86, before
#: the streaming build: the same synthetic tree must give the same values
BEFORE = {
    "area_m2": "2f41d46bf7eab8299314062fc5b0fd07b4a0e329fbb8d716df5055047badbdfd",
    "dates": "3b2a42ff7080f6b092ccf67aade83b15edb67e70c06698de7b0414ba42b6acca",
    "descriptors": "c837a7ff0b8d71d6e1f676c7bf2ccfaa9d33f00e5d079a77a99210939cc00e3f",
    "elevation": "abdb987f454c01cc41a87737e43f9539926a0b5f86ca38ee7d5b67d3e2b6d0f8",
    "forcing": "a7eb9a4835e414cd9b1591f1ce8beb06fa3ac3f59251a10c20f963e08f86e11a",
    "latitude": "67d7fb2a8fa612ffdf4afc4d4737e908097420df113385704b666c7bdb0c8940",
    "qobs": "5f238179e03c2846eced79202abc80026b7aab74abc3805625766458f6d61f81",
    "scalers/q_std": "701dc18852fb2da7fec02d7d9cc2a17effdbafdc8c3f4dbdfc644546294d1755",
    "scalers/x_mean": "2ca31808ef40163f0649693825ef7c5499dea72407e9f3cdac9183190e487538",
    "scalers/x_std": "17abbf20d7e9fabcb89390ca75f1e3638083489a131449e8fb49484fc1705a31",
    "scalers/y_mean": "7c6a950d69631806a30058f000cbc4f64c0d7d46e4efb2777d4e7b2b4d99ff85",
    "scalers/y_std": "28e5a11b5dbbe6bd25d2febd365631347318ffa2159210b1bbe05624112f0a61",
}


def digests(path: Path) -> dict[str, str]:
    with h5py.File(path, "r") as f:
        found: dict[str, str] = {}
        f.visititems(
            lambda n, o: (
                found.__setitem__(n, str(o.attrs["sha256"]))
                if isinstance(o, h5py.Dataset)
                else None
            )
        )
    return found


def test_camels_us_store_holds_the_values_of_before(tiny_store, tiny_camels):
    got = digests(tiny_store)
    assert {k: got[k] for k in BEFORE} == BEFORE
    store = open_store(tiny_store)
    assert store.basins == tiny_camels.basins and store.n_inputs == 5


@pytest.mark.parametrize("fixture", ["camels", "caravan"])
def test_arrays_do_not_depend_on_the_batch_size(request, tmp_path, fixture):
    tree = request.getfixturevalue(f"tiny_{fixture}")
    dataset = "camels_us" if fixture == "camels" else "caravan"
    train, evaluation = (TINY_TRAIN, TINY_EVAL) if fixture == "camels" else (
        CARAVAN_TRAIN, CARAVAN_EVAL
    )  # fmt: skip
    results = []
    for batch in (1, 3, None):
        out = prepare_store(
            tree.root, tree.basin_file, tmp_path / f"b{batch}.h5", dataset=dataset,
            train_period=train, eval_period=evaluation, batch=batch,
        )  # fmt: skip
        results.append({k: v for k, v in digests(out).items() if not k.startswith("attrib")})
    assert results[0] == results[1] == results[2]


_READER = """
import hashlib, sys
import numpy as np
from rvhpc.data.sampler import WindowSampler
from rvhpc.data.store import open_store
store = open_store(sys.argv[1], period="train", warmup=29)
sampler = WindowSampler(store, seq_length=30)
rows = sampler.train_samples()
x, y, q, b = sampler.batch(rows[np.random.default_rng(0).permutation(len(rows))[:64]])
maps = open("/proc/self/maps").read()
print(hashlib.sha256(np.ascontiguousarray(store.forcing).tobytes() + x.numpy().tobytes()
                     + y.numpy().tobytes()).hexdigest(), sys.argv[1] in maps)
"""


def test_two_training_processes_read_the_same_mapped_bytes(caravan_store):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _READER, str(caravan_store)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1] for o in outs]
    lines = [o[0].split() for o in outs]
    assert lines[0] == lines[1] and lines[0][1] == "True"  # same bytes; the file is mapped


def test_free_space_is_checked_before_writing(tmp_path):
    import shutil

    free = shutil.disk_usage(tmp_path).free
    check_free_space(tmp_path, 1 << 20)
    with pytest.raises(StoreError, match=r"needs about .* MB and only .* MB are free on"):
        check_free_space(tmp_path, free + (1 << 30))


_FULL = """
import resource, sys
from rvhpc.cli import main
resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))  # the disk is full at 200 kB
sys.argv = ["rvhpc", "data", "prepare", "--camels-root", sys.argv[1], "--basins", sys.argv[2],
            "--out", sys.argv[3], "--train-start", "2000-10-01", "--train-end", "2002-09-30",
            "--eval-start", "1999-01-01", "--eval-end", "2000-09-30"]
main()
"""


def test_a_write_that_fails_is_one_line_and_leaves_no_store(tiny_camels, tmp_path):
    out = tmp_path / "s" / "store.h5"
    proc = subprocess.run(
        [sys.executable, "-c", _FULL, str(tiny_camels.root), str(tiny_camels.basin_file), str(out)],
        env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error: ")]
    assert proc.returncode != 0 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert str(out) in lines[0] and "free" in lines[0]
    assert sorted(p.name for p in out.parent.iterdir()) == ["store.h5.lock"]


def test_rows_out_of_order_still_land_on_their_dates(handmade, tmp_path):
    """The date axis is sized from each file's first and last rows; a file whose rows are not in
    date order is read again with the true axis, so no value is lost or shifted."""
    from tests.data.handmade import HAND_EVAL, HAND_TRAIN

    path = next((handmade / "basin_mean_forcing").rglob("12000002*"))
    lines = path.read_text().splitlines(True)
    path.write_text("".join(lines[:4] + lines[-1:] + lines[4:-1]))  # last day first
    listed = tmp_path / "one.txt"
    listed.write_text("12000002\n")
    store = open_store(prepare_store(
        handmade, listed, tmp_path / "s.h5", train_period=HAND_TRAIN, eval_period=HAND_EVAL,
    ))  # fmt: skip
    assert len(store.dates) == 40 and str(store.dates[0].date()) == "2000-01-01"
    assert np.isfinite(store.forcing).all() and store.forcing[0, -1, 4] == 500 + 39


def test_camels_us_fingerprint_is_the_one_of_before(tiny_store, tiny_camels):
    """rvhpc 0.1.0's fingerprint of the same inputs (its formula, written out here), so a run
    trained on a store of before resumes and rescores on the rebuilt one."""
    import hashlib
    import json

    from rvhpc.data import camels

    root = Path(tiny_camels.root)
    groups = ("clim", "geol", "hydro", "name", "soil", "topo", "vege")
    forcing = camels.index_files(root / "basin_mean_forcing" / "maurer_extended")
    flow = camels.index_files(root / "usgs_streamflow")
    files = [Path(tiny_camels.basin_file)]
    files += [root / "camels_attributes_v2.0" / f"camels_{g}.txt" for g in groups]
    files += [forcing[b] for b in tiny_camels.basins] + [flow[b] for b in tiny_camels.basins]
    stats = [[str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns] for p in files]
    blob = json.dumps(dict(
        format=1, forcing="maurer_extended", basins=tiny_camels.basins, train=list(TINY_TRAIN),
        eval=list(TINY_EVAL), files=stats,
    ))  # fmt: skip
    assert open_store(tiny_store).fingerprint == hashlib.sha256(blob.encode()).hexdigest()
