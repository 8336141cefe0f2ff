"""Reading basins for the store: the process pool gives the serial results in the serial order,
and the fast parse gives the careful parse's values (or steps aside for it on a bad row)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from rvhpc.data import camels, textparse
from rvhpc.data.datasets import open_dataset
from rvhpc.data.datasets.camels_us import read_camels_basin
from rvhpc.data.pool import ordered_map
from rvhpc.data.synth import synthesize
from rvhpc.errors import DataError
from tests.data.handmade import forcing_text


@pytest.fixture
def source(tmp_path):
    synth = synthesize(
        tmp_path / "camels", n_basins=5, start="2000-01-01", end="2000-12-31", seed=3
    )
    return open_dataset("camels_us", synth.root, synth.basin_file)


def _args(source) -> list[tuple]:
    f_index = camels.index_files(source.forcing_dir)
    q_index = camels.index_files(source.root / camels.STREAMFLOW_DIR)
    return [(f_index[b], q_index[b], source.inputs) for b in source.basins]


def test_pool_equals_serial(source):
    args = _args(source)
    serial = list(ordered_map(read_camels_basin, args, workers=1))
    pooled = list(ordered_map(read_camels_basin, args, workers=2, chunk=2))
    assert len(serial) == len(pooled) == len(source.basins)
    for (path, _, _), a, b in zip(args, serial, pooled, strict=True):
        assert a.hashes == b.hashes and a.info == b.info
        assert a.hashes[str(path)] == hashlib.sha256(path.read_bytes()).hexdigest()
        for name in ("days", "x", "q_days", "q"):
            x, y = getattr(a, name), getattr(b, name)
            assert x.dtype == y.dtype and np.array_equal(x, y, equal_nan=True), name
    # the order is the basin list's: each forcing file's area is its own basin's
    assert [b.info["area_m2"] for b in pooled] == [camels.read_forcing(a[0]).area_m2 for a in args]


def test_pool_raises_the_serial_error(source):
    args = _args(source)
    path = args[3][1]
    lines = path.read_text().splitlines()
    lines[10] = lines[10].replace(lines[10].split()[4], "12.x5")
    path.write_text("\n".join(lines) + "\n")
    messages = []
    for workers in (1, 2):
        with pytest.raises(DataError) as info:
            list(ordered_map(read_camels_basin, args, workers=workers, chunk=1))
        messages.append(str(info.value))
    assert messages[0] == messages[1] and f"{path}:11" in messages[0]


def test_fast_parse_equals_careful_parse(tmp_path):
    text = forcing_text("01000001")
    body = text.encode().split(b"\n", 4)[4]
    names = [n.lower() for n in text.splitlines()[3].split()]
    fast = textparse.fast_numbers(body, len(names), list(range(len(names))))
    careful = textparse.numbers(
        Path("f"), textparse.parse_table(Path("f"), body, names, 5), names, 5
    )
    assert fast is not None and fast.dtype == careful.dtype and np.array_equal(fast, careful)
    # rows the careful path rejects are never taken by the fast one
    lines = body.decode().splitlines()
    for bad in (
        lines[2] + " 1.0",
        lines[2].rsplit(None, 1)[0],
        lines[2].replace(lines[2].split()[5], "NaN"),
    ):
        broken = "\n".join(lines[:2] + [bad] + lines[3:]).encode()
        assert textparse.fast_numbers(broken, len(names), list(range(len(names)))) is None, bad
