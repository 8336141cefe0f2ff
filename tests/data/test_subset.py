"""``rvhpc data subset``: random subsets of a basin list, deterministic and nested."""

from __future__ import annotations

from pathlib import Path

import pytest

from rvhpc.data.camels import read_basin_list
from rvhpc.data.subset import nested, subset, write_subsets
from rvhpc.errors import DataError
from tests.hpc._gridtools import rvhpc

IDS = [f"{1000000 + 17 * i:08d}" for i in range(40)]


def test_subsets_are_deterministic_nested_and_in_list_order() -> None:
    assert subset(IDS, 10, 3) == subset(IDS, 10, 3)
    assert subset(IDS, 10, 3) != subset(IDS, 10, 4)
    chain = nested(IDS, [20, 5, 10], seed=3)
    assert list(chain) == [5, 10, 20]
    assert set(chain[5]) < set(chain[10]) < set(chain[20]) < set(IDS)
    for n, ids in chain.items():
        assert len(ids) == n and ids == sorted(ids, key=IDS.index) == subset(IDS, n, 3)
    with pytest.raises(DataError, match="between 1 and 40"):
        subset(IDS, 41, 0)


def test_cli_subset_writes_lists(tmp_path: Path) -> None:
    source = tmp_path / "forty.txt"
    source.write_text("".join(f"{b}\n" for b in IDS))
    proc = rvhpc(
        "data",
        "subset",
        source,
        "--n",
        "8",
        "--n",
        "16",
        "--seed",
        "2",
        "--nested",
        "--out",
        tmp_path / "lists",
    )
    assert proc.returncode == 0, proc.stderr
    small = read_basin_list(tmp_path / "lists" / "forty-n8-s2.txt")
    large = read_basin_list(tmp_path / "lists" / "forty-n16-s2.txt")
    assert set(small) < set(large) and small == subset(IDS, 8, 2)
    one = write_subsets(source, [8], 2, tmp_path / "one.txt")
    assert read_basin_list(one[0][0]) == small
    bad = rvhpc("data", "subset", source, "--n", "8", "--n", "9", "--out", tmp_path / "x.txt")
    assert bad.returncode == 2 and "need --nested" in bad.stderr
    assert bad.stderr.strip().count("\n") == 0


def test_subsets_of_caravan_ids(tiny_caravan, tmp_path: Path) -> None:
    """Lists of any dataset's ids (Caravan's, GRDC's upper case) are cut the same way."""
    out = tmp_path / "half.txt"
    write_subsets(tiny_caravan.basin_file, [3], 0, out)
    ids = out.read_text().split()
    assert len(ids) == 3 and set(ids) < set(tiny_caravan.basins)
