"""`rvhpc data check` on hand-made broken trees: each problem is reported with its rule, level and
basins; errors give exit 1 and stop `prepare` with one line, warnings do not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rvhpc.cli import app
from tests.data import realshaped as rs


def _periods() -> list[str]:
    return [
        "--train-start",
        rs.TRAIN[0],
        "--train-end",
        rs.TRAIN[1],
        "--eval-start",
        rs.EVAL[0],
        "--eval-end",
        rs.EVAL[1],
    ]


def _check(root: Path, *extra: str):
    args = ["data", "check", "--camels-root", str(root), "--basins", str(root / "basins.txt")]
    return CliRunner().invoke(app, [*args, *_periods(), *extra])


def _attr(root: Path, group: str) -> Path:
    return root / "camels_attributes_v2.0" / f"camels_{group}.txt"


def _set_attribute(root: Path, basin: str, column: str, value: str = "NA") -> None:
    table = rs.attribute_table_of(root)
    table.loc[basin, column] = None if value == "NA" else value
    rs.write_attributes(root, table)


def _streamflow(root: Path, basin: str) -> Path:
    return rs._streamflow_path(root, basin)


def _forcing(root: Path, basin: str) -> Path:
    return rs._forcing_path(root, basin)


def _blank_discharge(root: Path, basin: str, period: tuple[str, str]) -> None:
    path = _streamflow(root, basin)
    lines = []
    for line in path.read_text().splitlines():
        f = line.split()
        day = f"{f[1]}-{f[2]}-{f[3]}"
        if period[0] <= day <= period[1]:
            line = f"{f[0]} {f[1]} {f[2]} {f[3]}  -999.00 M"
        lines.append(line)
    path.write_text("\n".join(lines) + "\n")


def _cut_forcing(root: Path, basin: str, last_day: str) -> None:
    path = _forcing(root, basin)
    lines = path.read_text().splitlines(True)
    keep = [ln for ln in lines[4:] if "-".join(ln.split()[:3]) <= last_day]
    path.write_text("".join(lines[:4] + keep))


def _scale_area(root: Path, basin: str, factor: float) -> None:
    path = _forcing(root, basin)
    lines = path.read_text().splitlines(True)
    lines[2] = f"{int(int(lines[2]) * factor):>10d}\n"
    path.write_text("".join(lines))


def _drop_column(root: Path, group: str, column: str) -> None:
    path = _attr(root, group)
    rows = [ln.split(";") for ln in path.read_text().splitlines()]
    k = rows[0].index(column)
    path.write_text("".join(";".join(r[:k] + r[k + 1 :]) + "\n" for r in rows))


B0, B1, B2 = rs.BASINS
# case: (break the tree, level, rule, basins, text the line must hold)
CASES = {
    "descriptor missing": (
        lambda r: _set_attribute(r, B2, "aridity"),
        "error",
        "descriptor-missing",
        [B2],
        f"{B2} (aridity)",
    ),
    "no observed training day": (
        lambda r: _blank_discharge(r, B1, rs.TRAIN),
        "error",
        "no-train-discharge",
        [B1],
        "remove these basins from the list",
    ),
    "no observed eval day": (
        lambda r: _blank_discharge(r, B0, rs.EVAL),
        "warning",
        "no-eval-discharge",
        [B0],
        "no observed discharge in the eval period",
    ),
    "forcing file missing": (
        lambda r: _forcing(r, B1).unlink(),
        "error",
        "forcing-file-missing",
        [B1],
        "no forcing file",
    ),
    "streamflow file missing": (
        lambda r: _streamflow(r, B2).unlink(),
        "error",
        "streamflow-file-missing",
        [B2],
        "no streamflow file",
    ),
    "forcing cut short": (
        lambda r: _cut_forcing(r, B0, "2001-01-20"),
        "error",
        "eval-period-not-covered",
        [B0],
        "14 day(s) missing, forcing 2000-01-01..2001-01-20",
    ),
    "area differs": (
        lambda r: _scale_area(r, B1, 1.25),
        "warning",
        "area-mismatch",
        [B1],
        f"{B1} (+25 %)",
    ),
    "attribute file missing": (
        lambda r: _attr(r, "soil").unlink(),
        "error",
        "attribute-file",
        [],
        "camels_soil.txt: attribute file missing",
    ),
    "descriptor column missing": (
        lambda r: _drop_column(r, "topo", "slope_mean"),
        "error",
        "descriptor-column",
        [],
        "lacks the descriptor column(s) slope_mean",
    ),
    "other column missing": (
        lambda r: _drop_column(r, "vege", "root_depth_99"),
        "warning",
        "attribute-column",
        [],
        "lacks the published column(s) root_depth_99",
    ),
    "basin not in attributes": (
        lambda r: _attr(r, "clim").write_text(
            "".join(ln for ln in _attr(r, "clim").read_text().splitlines(True) if B1 not in ln)
        ),
        "error",
        "basin-not-in-attributes",
        [B1],
        "no row for listed basin(s)",
    ),
}


def test_real_shaped_tree_passes_with_the_warm_up_warning(tmp_path):
    root = rs.make_real_shaped(tmp_path / "camels")
    result = _check(root, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] and not report["errors"]
    assert [w["rule"] for w in report["warnings"]] == ["train-warmup-not-covered"]
    assert [b["basin"] for b in report["basins"]] == list(rs.BASINS)
    assert report["basins"][0]["forcing_days"] == ["2000-01-01", "2001-02-03"]
    flagged = report["basins"][0]["eval_missing_q"]
    assert flagged == 0.0 and report["basins"][0]["train_missing_q"] == 0.0
    assert all(not f["missing_columns"] for f in report["attribute_files"].values())


@pytest.mark.parametrize("case", list(CASES))
def test_check_reports_each_problem(tmp_path, case):
    breaker, level, rule, basins, text = CASES[case]
    root = rs.make_real_shaped(tmp_path / "camels")
    breaker(root)
    result = _check(root, "--json")
    assert result.exit_code == (1 if level == "error" else 0), result.output
    report = json.loads(result.stdout)
    found = [f for f in report[f"{level}s"] if f["rule"] == rule]
    assert len(found) == 1, report
    assert found[0]["basins"] == basins and text in found[0]["message"], found[0]
    assert "\n" not in found[0]["message"]
    # the table form prints the same line
    table = _check(root)
    assert f"{level}: {found[0]['message']}" in table.stdout.splitlines()
    # prepare runs the same checks: errors stop it with one line, warnings do not
    out = tmp_path / "store.h5"
    args = ["data", "prepare", "--camels-root", str(root), "--basins", str(root / "basins.txt")]
    prep = CliRunner().invoke(app, [*args, "--out", str(out), *_periods()])
    if level == "error":
        assert prep.exit_code == 2 and not out.exists()
        errors = [ln for ln in prep.stderr.splitlines() if ln.startswith("error: ")]
        assert len(errors) == 1 and text in errors[0], prep.stderr
    else:
        assert prep.exit_code == 0 and out.exists(), prep.output


def test_several_errors_one_line_each_and_prepare_names_the_count(tmp_path):
    root = rs.make_real_shaped(tmp_path / "camels")
    _set_attribute(root, B0, "p_mean")
    _set_attribute(root, B2, "gvf_diff")
    _blank_discharge(root, B1, rs.TRAIN)
    result = _check(root)
    errors = [ln for ln in result.stdout.splitlines() if ln.startswith("error: ")]
    assert result.exit_code == 1 and len(errors) == 2, result.stdout
    assert f"{B0} (p_mean); {B2} (gvf_diff)" in errors[0] and f"{B1}" in errors[1]
    assert "1 error(s)" not in result.stdout and "2 error(s)" in result.stdout
    args = ["data", "prepare", "--camels-root", str(root), "--basins", str(root / "basins.txt")]
    prep = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "s.h5"), *_periods()])
    last = [ln for ln in prep.stderr.splitlines() if ln.startswith("error: ")]
    assert len(last) == 1 and "and 1 more error(s): run `rvhpc data check" in last[0]
