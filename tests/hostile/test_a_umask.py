"""Defect 7: results were written 0600 (``mkstemp`` ignores the umask), so the group could not read
a colleague's results on a shared cluster. Files now get 0666 less the process umask."""

from __future__ import annotations

import stat
import subprocess
import sys

import pytest

from tests.hostile.a_help import copy_run, train_once
from tests.training.trainhelp import cli_env

WRITE = """
import os, sys
from pathlib import Path
from rvhpc.atomic import atomic_path, write_json, write_text
os.umask(int(sys.argv[2], 8))
out = Path(sys.argv[1])
write_text(out / "a.txt", "x")
write_json(out / "b.json", {"x": 1})
with atomic_path(out / "c.bin") as tmp:
    tmp.write_bytes(b"x")
"""


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_atomic_writes_follow_the_umask(tmp_path, umask):
    subprocess.run([sys.executable, "-c", WRITE, str(tmp_path), oct(umask)], check=True)
    for name in ("a.txt", "b.json", "c.bin"):
        assert mode(tmp_path / name) == 0o666 & ~umask, (name, oct(mode(tmp_path / name)))


def test_evaluate_results_group_readable(tiny_store, tmp_path_factory, tmp_path):
    run = copy_run(train_once(tiny_store, tmp_path_factory), tmp_path / "run")
    out = tmp_path / "eval"
    proc = subprocess.run(
        ["bash", "-c", 'umask 002 && exec "$@"', "bash", sys.executable, "-m", "rvhpc"]
        + ["evaluate", str(run), "--out", str(out), "--device", "cpu"],
        capture_output=True,
        text=True,
        timeout=300,
        env=cli_env(),
    )
    assert proc.returncode == 0, proc.stderr
    for name in ("predictions.parquet", "metrics.csv"):
        assert mode(out / name) == 0o664, (name, oct(mode(out / name)))
