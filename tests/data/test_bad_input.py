"""Bad input through the CLI: one clear line naming the file and the problem, a non-zero exit,
no traceback, and no store left behind."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rvhpc.cli import app
from tests.data.handmade import HAND_EVAL, HAND_TRAIN, forcing_text


def _forcing(root: Path, basin: str) -> Path:
    return next((root / "basin_mean_forcing" / "maurer_extended").rglob(f"{basin}*"))


def _streamflow(root: Path, basin: str) -> Path:
    return next((root / "usgs_streamflow").rglob(f"{basin}*"))


def _drop_line(path: Path, startswith: str) -> None:
    path.write_text(
        "".join(ln for ln in path.read_text().splitlines(True) if not ln.startswith(startswith))
    )


def _malformed(root: Path) -> Path:
    path = _streamflow(root, "12000002")
    lines = path.read_text().splitlines(True)
    lines[9] = lines[9].replace(" A", " A extra 1.0")
    path.write_text("".join(lines))
    return path


# each case: (break the tree, return (file the message must name, text it must contain),
# extra CLI args)
CASES = {
    "missing root": (lambda r: (shutil.rmtree(r), (r, "CAMELS root folder not found"))[1], []),
    "missing subfolder": (
        lambda r: (shutil.rmtree(r / "usgs_streamflow"), (r / "usgs_streamflow", "folder missing"))[
            1
        ],
        [],
    ),
    "no forcing file": (
        lambda r: (
            _forcing(r, "12000002").unlink(),
            (r / "basin_mean_forcing" / "maurer_extended", "no forcing file for basin(s) 12000002"),
        )[1],
        [],
    ),
    "no streamflow file": (
        lambda r: (
            _streamflow(r, "01000001").unlink(),
            (r / "usgs_streamflow", "no streamflow file for basin(s) 01000001"),
        )[1],
        [],
    ),
    "basin missing from attributes": (
        lambda r: (
            _drop_line(r / "camels_attributes_v2.0" / "camels_soil.txt", "12000002"),
            (
                r / "camels_attributes_v2.0" / "camels_soil.txt",
                "no row for listed basin(s) 12000002",
            ),
        )[1],
        [],
    ),
    "malformed row": (lambda r: (_malformed(r), "malformed row"), []),
    "forcing without area line": (
        lambda r: (
            _forcing(r, "01000001").write_text(forcing_text("01000001", area=None)),
            (_forcing(r, "01000001"), "catchment area"),
        )[1],
        [],
    ),
    "empty basin list": (
        lambda r: (
            (r / "basins.txt").write_text("\n  \n"),
            (r / "basins.txt", "basin list is empty"),
        )[1],
        [],
    ),
    "duplicated basin list": (
        lambda r: (
            (r / "basins.txt").write_text("01000001\n12000002\n01000001\n"),
            (r / "basins.txt", ":3: basin 01000001 is listed twice"),
        )[1],
        [],
    ),
    "train period outside data": (
        lambda r: (
            r / "basin_mean_forcing" / "maurer_extended",
            "do not cover the train period 1999-10-01..2000-02-09",
        ),
        ["--train-start", "1999-10-01"],
    ),
    "eval period outside data": (
        lambda r: (
            r / "basin_mean_forcing" / "maurer_extended",
            "do not cover the eval period 2000-01-05..2001-01-01",
        ),
        ["--eval-end", "2001-01-01"],
    ),
    "unknown forcing": (
        lambda r: (r / "basin_mean_forcing", "unknown forcing 'cida'"),
        ["--forcing", "cida"],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_one_line_no_store(handmade, tmp_path, case):
    breaker, extra = CASES[case]
    expected = breaker(handmade)
    if case == "malformed row":
        expected = (_streamflow(handmade, "12000002"), "malformed row")
    where, text = expected
    out = tmp_path / "out" / "store.h5"
    args = [
        "data",
        "prepare",
        "--camels-root",
        str(handmade),
        "--basins",
        str(handmade / "basins.txt"),
        "--out",
        str(out),
        "--train-start",
        HAND_TRAIN[0],
        "--train-end",
        HAND_TRAIN[1],
        "--eval-start",
        HAND_EVAL[0],
        "--eval-end",
        HAND_EVAL[1],
        *extra,
    ]
    if case == "missing root":
        args[args.index("--basins") + 1] = str(tmp_path / "basins.txt")
        (tmp_path / "basins.txt").write_text("01000001\n")
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = [
        ln for ln in result.stderr.splitlines() if ln.startswith("error")
    ]  # progress lines aside
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert str(where) in lines[0] and text in lines[0], lines[0]
    assert "Traceback" not in result.output
    assert not out.exists()
    assert (
        not any(p.name.endswith(".tmp") for p in out.parent.glob("*"))
        if out.parent.exists()
        else True
    )


def test_malformed_row_names_the_line(handmade, tmp_path):
    path = _malformed(handmade)
    result = CliRunner().invoke(
        app,
        [
            "data",
            "prepare",
            "--camels-root",
            str(handmade),
            "--basins",
            str(handmade / "basins.txt"),
            "--out",
            str(tmp_path / "s.h5"),
            "--train-start",
            HAND_TRAIN[0],
            "--train-end",
            HAND_TRAIN[1],
            "--eval-start",
            HAND_EVAL[0],
            "--eval-end",
            HAND_EVAL[1],
        ],
    )
    assert f"{path}:10: malformed row" in result.stderr
    assert not (tmp_path / "s.h5").exists()


def test_show_and_info_of_a_missing_store(tmp_path):
    result = CliRunner().invoke(app, ["data", "info", str(tmp_path / "none.h5")])
    assert (
        result.exit_code == 2
        and "store not found" in result.stderr
        and "Traceback" not in result.output
    )


def test_synth_bad_dates(tmp_path):
    result = CliRunner().invoke(
        app, ["data", "synth", str(tmp_path / "x"), "--start", "2000-13-01"]
    )
    assert result.exit_code == 2 and "invalid --start/--end" in result.stderr
