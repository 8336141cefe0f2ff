"""Helpers of the test_a_* hostile cases: one tiny trained run per session, copied per test, and
the check that a refusal is one clean line."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.training.trainhelp import rvhpc, train_args

_TRAINED: dict[str, Path] = {}


def train_once(store: Path, tmp_path_factory, *extra: object, epochs: int = 1) -> Path:
    """A finished tiny run (trained once per session and set of options); treat it as read-only."""
    key = f"{store}|{epochs}|{extra}"
    if key not in _TRAINED:
        out = tmp_path_factory.mktemp("hostile_trained") / "run"
        proc = rvhpc(*train_args(store, out, *extra, epochs=epochs))
        assert proc.returncode == 0, proc.stderr
        _TRAINED[key] = out
    return _TRAINED[key]


def copy_run(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def one_line(proc: subprocess.CompletedProcess, code: int, *words: str) -> str:
    """The one ``error:`` line of a refusal (exit ``code``, no traceback) holding ``words``."""
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    for word in words:
        assert word in errors[0], errors[0]
    return errors[0]
