"""Reading basins for the store: the process pool gives the serial results in the serial order,
and the fast parse gives the careful parse's values (or steps aside for it on a bad row)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rvhpc.data import build, camels
from rvhpc.data.synth import synthesize
from rvhpc.errors import DataError
from tests.data.handmade import forcing_text

PERIODS = (("2000-04-01", "2000-12-31"), ("2000-01-01", "2000-03-31"))


@pytest.fixture
def inputs(tmp_path) -> build.Inputs:
    synth = synthesize(
        tmp_path / "camels", n_basins=5, start="2000-01-01", end="2000-12-31", seed=3
    )
    return build.resolve_inputs(synth.root, synth.basin_file, "maurer_extended", *PERIODS)


def test_pool_equals_serial(inputs):
    serial = build.read_basins(inputs, workers=1)
    pooled = build.read_basins(inputs, workers=2)
    assert len(serial) == len(pooled) == len(inputs.basins)
    for path, a, b in zip(inputs.forcing_files, serial, pooled, strict=False):
        assert a.hashes == b.hashes and a.head == b.head
        assert a.hashes[0] == build._sha256(path)
        for name in ("x_days", "x", "q_days", "q"):
            x, y = getattr(a, name), getattr(b, name)
            assert x.dtype == y.dtype and np.array_equal(x, y, equal_nan=True), name
    # the order is the basin list's: each forcing file's area is its own basin's
    assert [b.head[0] for b in pooled] == [
        camels.read_forcing(p).area_m2 for p in inputs.forcing_files
    ]


def test_pool_raises_the_serial_error(inputs):
    path = inputs.streamflow_files[3]
    lines = path.read_text().splitlines()
    lines[10] = lines[10].replace(lines[10].split()[4], "12.x5")
    path.write_text("\n".join(lines) + "\n")
    messages = []
    for workers in (1, 2):
        with pytest.raises(DataError) as info:
            build.read_basins(inputs, workers=workers)
        messages.append(str(info.value))
    assert messages[0] == messages[1] and f"{path}:11" in messages[0]


def test_fast_parse_equals_careful_parse(tmp_path):
    text = forcing_text("01000001")
    body = text.encode().split(b"\n", 4)[4]
    names = [n.lower() for n in text.splitlines()[3].split()]
    fast = camels._fast_numbers(body, len(names), list(range(len(names))))
    careful = camels._numbers(Path("f"), camels._parse_table(Path("f"), body, names, 5), names, 5)
    assert fast is not None and fast.dtype == careful.dtype and np.array_equal(fast, careful)
    # rows the careful path rejects are never taken by the fast one
    lines = body.decode().splitlines()
    for bad in (
        lines[2] + " 1.0",
        lines[2].rsplit(None, 1)[0],
        lines[2].replace(lines[2].split()[5], "NaN"),
    ):
        broken = "\n".join(lines[:2] + [bad] + lines[3:]).encode()
        assert camels._fast_numbers(broken, len(names), list(range(len(names)))) is None, bad
