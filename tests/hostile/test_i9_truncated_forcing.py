"""A forcing file cut short at a line boundary (its last years missing) is never accepted
silently: `data check` and `prepare` name the basin and the days its forcing lacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rvhpc.cli import app
from rvhpc.data.synth import synthesize

TRAIN = ("2001-10-01", "2003-09-30")
EVAL = ("2000-10-01", "2001-09-30")


@pytest.fixture
def tree(tmp_path):
    return synthesize(tmp_path / "camels", n_basins=3, start="2000-01-01", end="2003-12-31")


def _forcing(root: Path, basin: str) -> Path:
    return next((root / "basin_mean_forcing" / "maurer_extended").rglob(f"{basin}_*"))


def _cut(path: Path, keep) -> None:
    lines = path.read_text().splitlines(True)
    path.write_text("".join(lines[:4] + [ln for ln in lines[4:] if keep(ln.split()[0])]))


def _run(command: str, tree, *extra: str, train=TRAIN):
    args = ["data", command, "--camels-root", str(tree.root), "--basins", str(tree.basin_file)]
    args += ["--train-start", train[0], "--train-end", train[1]]
    args += ["--eval-start", EVAL[0], "--eval-end", EVAL[1], *extra]
    return CliRunner().invoke(app, args)


def test_last_years_cut_off_is_an_error(tree, tmp_path):
    basin = tree.basins[1]
    _cut(_forcing(tree.root, basin), lambda year: year < "2003")  # ends 2002-12-31
    report = json.loads(_run("check", tree, "--json").stdout)
    assert not report["ok"]
    (error,) = report["errors"]
    assert error["rule"] == "train-period-not-covered" and error["basins"] == [basin]
    assert f"{basin} (273 day(s) missing, forcing 2000-01-01..2002-12-31)" in error["message"]
    out = tmp_path / "store.h5"
    prep = _run("prepare", tree, "--out", str(out))
    assert prep.exit_code == 2 and not out.exists()
    assert "do not cover the train period 2001-10-01..2003-09-30" in prep.stderr
    # a period the cut file still covers is fine
    ok = _run("prepare", tree, "--out", str(out), train=("2001-10-01", "2002-09-30"))
    assert ok.exit_code == 0, ok.output


def test_first_year_cut_off_is_a_warm_up_warning(tree, tmp_path):
    basin = tree.basins[0]
    _cut(_forcing(tree.root, basin), lambda year: year > "2000")  # starts 2001-01-01
    report = json.loads(_run("check", tree, "--json", train=("2002-01-01", "2003-09-30")).stdout)
    assert [e["rule"] for e in report["errors"]] == ["eval-period-not-covered"]
    report = json.loads(_run("check", tree, "--json", "--eval-start", "2001-06-01").stdout)
    assert report["ok"], report["errors"]
    (warning,) = [w for w in report["warnings"] if w["rule"] == "eval-warmup-not-covered"]
    assert warning["basins"] == [basin]


def test_cut_inside_a_line_names_the_line(tree, tmp_path):
    path = _forcing(tree.root, tree.basins[2])
    text = path.read_text()
    path.write_text(text[: len(text) // 2 + 7])  # mid-row
    n_lines = path.read_text().count("\n") + 1
    result = _run("check", tree)
    assert result.exit_code == 1
    assert f"{path}:{n_lines}: malformed row" in result.stdout
