"""`rvhpc data synth` never writes into a folder that already holds CAMELS US files unless told
(--overwrite), then replaces only the files it writes; a file where a folder is expected is one
line, never a traceback."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rvhpc.cli import app
from tests.data import realshaped as rs


def _synth(out: Path, *extra: str):
    args = ["data", "synth", str(out), "--basins", "2", "--start", "2001-01-01"]
    return CliRunner().invoke(app, [*args, "--end", "2001-03-31", *extra])


def _tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _one_error_line(result) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_refuses_a_real_tree_and_leaves_it_untouched(tmp_path):
    root = rs.make_real_shaped(tmp_path / "camels")
    before = _tree(root)
    line = _one_error_line(_synth(root))
    assert f"{root}: already holds CAMELS US files" in line and "--overwrite" in line
    assert _tree(root) == before


def test_refuses_its_own_earlier_tree_then_overwrite_replaces_only_its_files(tmp_path):
    out = tmp_path / "synth"
    assert _synth(out).exit_code == 0
    first = _tree(out)
    _one_error_line(_synth(out, "--seed", "1"))
    assert _tree(out) == first
    # the user's own files in the same tree: never touched, even with --overwrite
    mine = {
        out / "notes.txt": "my notes\n",
        out / "usgs_streamflow" / "99" / "99000001_streamflow_qc.txt": "99000001 2001 01 01 1 A\n",
        out / "camels_attributes_v2.0" / "camels_extra.txt": "gauge_id;x\n",
    }
    for path, text in mine.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    result = _synth(out, "--seed", "1", "--overwrite")
    assert result.exit_code == 0, result.output
    for path, text in mine.items():
        assert path.read_text() == text
    after = _tree(out)
    assert after["basin_list.txt"] != first["basin_list.txt"]  # synth's own files replaced
    assert set(first) <= set(after)  # nothing deleted


def test_an_empty_folder_is_fine(tmp_path):
    (tmp_path / "empty").mkdir()
    assert _synth(tmp_path / "empty").exit_code == 0


@pytest.mark.parametrize(
    "blocker",
    [".", "usgs_streamflow", "basin_mean_forcing/maurer_extended", "camels_attributes_v2.0"],
)
def test_a_file_where_a_folder_is_expected_is_one_line(tmp_path, blocker):
    out = tmp_path / "synth"
    path = out / blocker if blocker != "." else out
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("not a folder\n")
    line = _one_error_line(_synth(out, "--overwrite"))
    assert str(path.resolve() if blocker == "." else path) in line, line
    assert path.read_text() == "not a folder\n"


def test_a_file_in_place_of_a_huc_folder_is_one_line(tmp_path):
    probe = tmp_path / "probe"
    assert _synth(probe).exit_code == 0
    huc = next((probe / "usgs_streamflow").iterdir()).name
    out = tmp_path / "synth"
    (out / "usgs_streamflow").mkdir(parents=True)
    (out / "usgs_streamflow" / huc).write_text("a file\n")
    line = _one_error_line(_synth(out, "--overwrite"))
    assert str(out / "usgs_streamflow" / huc) in line and "folder" in line
