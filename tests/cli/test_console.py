"""Logs that survive Slurm: off a terminal (captured pipes, like a Slurm log) one line of output is
one line, however long, and emoji codes or markup in paths and data are printed as they are."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from rvhpc.progress import make_console

#: a folder name holding an emoji code, rich markup and a file:line: reference
ODD = "a.txt:100:[bold]x[/bold]:smile:"


def _rvhpc(*args: object) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    env.update(COLUMNS="80", TERM="xterm-256color")  # a narrow "terminal" that is not one
    return subprocess.run(
        [sys.executable, "-m", "rvhpc", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def _long_dir(tmp_path: Path) -> Path:
    path = tmp_path / ("very-long-folder-name-" * 6) / ODD
    assert len(str(path)) > 200
    return path


def test_captured_run_lines_are_never_wrapped_nor_interpreted(tmp_path):
    out = _long_dir(tmp_path) / "camels"
    proc = _rvhpc(
        "data", "synth", out, "--basins", 2, "--start", "2001-01-01", "--end", "2001-03-31"
    )
    assert proc.returncode == 0, proc.stderr
    (wrote,) = proc.stdout.splitlines()  # one line although it is far wider than 80 columns
    assert wrote.endswith(f"to {out}; basin list {out / 'basin_list.txt'}"), wrote
    assert all(len(ln) > 0 for ln in proc.stderr.splitlines())
    # the data check of that tree, one basin without forcing: the error line names the folder
    forcing = next((out / "basin_mean_forcing" / "maurer_extended").rglob("*.txt"))
    forcing.unlink()
    periods = ["--train-start", "2001-02-01", "--train-end", "2001-03-31"]
    periods += ["--eval-start", "2001-01-01", "--eval-end", "2001-01-31"]
    check = _rvhpc(
        "data", "check", "--camels-root", out, "--basins", out / "basin_list.txt", *periods
    )
    assert check.returncode == 1, check.stderr
    (error,) = [ln for ln in check.stdout.splitlines() if ln.startswith("error: ")]
    assert error.startswith(f"error: {out / 'basin_mean_forcing' / 'maurer_extended'}: no forcing")
    # an rvhpc error on stderr: one line, the path as given
    missing = _long_dir(tmp_path) / "nothing-here"
    prep = _rvhpc(
        "data", "prepare", "--camels-root", missing, "--basins", out / "basin_list.txt",
        "--out", tmp_path / "s.h5",
    )  # fmt: skip
    assert prep.returncode == 2
    assert prep.stderr.splitlines() == [
        f"error: {missing}: CAMELS root folder not found (pass --camels-root DIR)"
    ]


def test_console_keeps_text_as_written_off_a_terminal(capsys):
    console = make_console()
    line = "x" * 300 + " /data/a.txt:100: [red]not markup[/red] :thumbs_up:"
    console.print(line)
    from rich.table import Table

    table = Table()
    table.add_column("path")
    table.add_row("y" * 250 + " b.txt:7:[bold]")
    console.print(table)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == line
    assert any(("y" * 250 + " b.txt:7:[bold]") in row for row in out)
    assert len(out) == 1 + 5  # the table: top, header, rule, one row, bottom
