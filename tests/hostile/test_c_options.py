"""Issue 19, item 13: options that were silently ignored, and a dry run whose pasted command would
run what a runs_dir holds: ``train --seeds 0,1 --seed 3`` trained seeds 0 and 1 without a word;
``submit --dry-run`` printed ``# would run: sbatch PATH`` with the path unquoted."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.hostile._c_support import bounded, refused
from tests.hpc._gridtools import write_grid

CONFLICTS = {
    "--seed with --seeds": (["--seeds", "0,1", "--seed", "3"], "--seed 3 and --seeds"),
    "--seed 0 (the default, given) with --seeds": (["--seed", "0", "--seeds", "0,1"], "--seeds"),
    "--attr-seed with --attr-seeds": (
        ["--seeds", "0,1", "--attr-seeds", "3,4", "--attr-seed", "7"],
        "--attr-seed 7 and --attr-seeds",
    ),
    "--attr-seed with --paired-draw --seeds": (
        ["--static", "gaussian", "--dim", "4", "--paired-draw", "--seeds", "0,1"]
        + ["--attr-seed", "5"],
        "--paired-draw",
    ),
    "--attr-seeds without --seeds": (["--attr-seeds", "1,2"], "pairs with --seeds"),
    "--seeds of 100 KB": (["--seeds", "1," * 50_000 + "x"], "--seeds takes integers"),
}


@pytest.mark.parametrize("case", list(CONFLICTS))
def test_conflicting_seed_options_refused(tmp_path: Path, tiny_store, case: str) -> None:
    args, needle = CONFLICTS[case]
    out = tmp_path / "run"
    run = bounded("train", "--store", tiny_store, "--out", out, "--epochs", 1, *args)
    refused(run, needle)
    assert not out.exists()


def test_dry_run_command_is_quoted(tmp_path: Path) -> None:
    """A runs_dir holding ``$(...)`` and backquotes: the printed sbatch line, pasted into bash,
    passes the script's path as one word and runs nothing."""
    grid = write_grid(tmp_path)
    data = yaml.safe_load(grid.read_text())
    data["runs_dir"] = "runs/$(touch PWNED1)`touch PWNED2`; touch PWNED3 'q"
    grid.write_text(yaml.safe_dump(data, sort_keys=False))
    run = bounded("submit", grid, "--dry-run", timeout=120)
    assert run.returncode == 0, run.stderr
    lines = [ln[len("# would run: ") :] for ln in run.stdout.splitlines() if "# would run:" in ln]
    assert lines, run.stdout
    for line in lines:
        words = shlex.split(line)
        assert words[:2] == ["sbatch", "--parsable"] and "$(touch PWNED1)" in words[2]
        pasted = "printf '%s\\n' " + line.removeprefix("sbatch ")
        proc = subprocess.run(["bash", "-c", pasted], cwd=tmp_path, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.splitlines() == words[1:]
    assert not list(tmp_path.rglob("PWNED*")), "the pasted line ran a command"
