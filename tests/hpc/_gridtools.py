"""Helpers for the grid / Slurm tests: tiny grid files written into tmp folders."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from rvhpc.resources import builtin_grid

REPO = Path(__file__).resolve().parents[2]
SMOKE = builtin_grid("smoke")
PYTHON = os.environ.get("RVHPC_PYTHON", sys.executable)


def write_grid(folder: Path, name: str = "smoke", experiments: list | None = None, **train) -> Path:
    """The smoke grid with another name/experiments/training settings, written into ``folder``."""
    data = yaml.safe_load(SMOKE.read_text())
    data["name"] = name
    data["runs_dir"] = f"runs/{name}"
    data["data"]["store"] = f"runs/{name}/data/store.h5"
    if experiments is not None:
        data["experiments"] = experiments
    data["train"].update(train)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def rvhpc(
    *args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    """Run the real CLI in a subprocess."""
    return subprocess.run(
        [PYTHON, "-m", "rvhpc", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=timeout,
    )
