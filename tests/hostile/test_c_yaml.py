"""Issue 19, item 9: hostile YAML in grid files and site profiles. An alias bomb once made
``grid show`` use 2 GB and print a 322 MB error line; lists nested 3,000 deep raised
RecursionError. Every case is refused with one short line, under a memory limit."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hostile._c_support import bounded, refused
from tests.hpc._gridtools import write_grid


def _bomb(levels: int = 9, width: int = 9) -> str:
    """Billion laughs: level n is a list of ``width`` aliases of level n-1."""
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for n in range(1, levels):
        lines.append(f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


HOSTILE = {
    "alias bomb in a top-level key": (_bomb() + "name: x\n", "aliases"),
    "alias bomb in a train value": (None, "aliases"),  # built in the test from the smoke grid
    "a list nested 3,000 deep": ("name: " + "[" * 3000 + "]" * 3000 + "\n", "nested more than"),
    "a mapping nested 3,000 deep": ("name: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n", "nested"),
    "block lists nested 200 deep": (
        "name:\n" + "".join("  " * i + "-\n" for i in range(1, 200)) + "  " * 200 + "- 1\n",
        "nested more than",
    ),
    "a 2 MB file": ("name: x\n" + "#" * (2 << 20) + "\n", "larger than"),
    "a key of 400 KB, twice": (("? " + "k" * 400_000 + "\n: 1\n") * 2, "duplicate key"),
    "an integer of 5,000 digits": ("name: x\nruns_dir: " + "9" * 5000 + "\n", ""),
    "an alias to an open anchor (a cycle)": ("name: &c [*c]\n", ""),
    "an undefined alias": ("name: *nowhere\n", "not valid YAML"),
    "a python tag": ("name: !!python/object/apply:os.system [echo hi]\n", "not valid YAML"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_grid_yaml_is_one_short_line(tmp_path: Path, case: str) -> None:
    text, needle = HOSTILE[case]
    if text is None:  # the smoke grid with a bomb expanded inside train
        grid = write_grid(tmp_path)
        text = _bomb() + grid.read_text().replace("  hidden: 8\n", "  hidden: *a8\n")
    path = tmp_path / "hostile.yaml"
    path.write_text(text)
    line = refused(bounded("grid", "show", path, timeout=120), str(path), needle)
    assert "lol, lol, lol, lol, lol" not in line  # never echoes the expanded input


def test_an_alias_that_stays_small_is_fine(tmp_path: Path) -> None:
    grid = write_grid(tmp_path)
    text = grid.read_text().replace("  hidden: 8\n", "  hidden: &h 8\n  log_every: *h\n")
    grid.write_text(text)
    run = bounded("grid", "show", grid, "--json")
    assert run.returncode == 0, run.stderr


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (_bomb() + "partition: x\n", "aliases"),
        ("partition: " + "[" * 3000 + "]" * 3000 + "\n", "nested more than"),
        ("partition: " + "p" * 100_000 + "\nmem_gb: [1]\n", "mem_gb"),
    ],
)
def test_hostile_profile_yaml_is_one_short_line(tmp_path: Path, text: str, needle: str) -> None:
    grid = write_grid(tmp_path)
    profile = tmp_path / "site.yaml"
    profile.write_text(text)
    run = bounded("submit", grid, "--profile", profile, "--dry-run", timeout=120)
    refused(run, "site.yaml", needle)
    assert not list(tmp_path.rglob("*.sbatch"))
