"""Shared fixtures. Tests that need the local Slurm cluster use ``slurm_cluster``: without a
cluster they skip on a workstation but FAIL when ``CI`` is set (CI must start it: scripts/test.sh)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _slurm_ready() -> str | None:
    """None when sinfo shows a usable node, else the reason."""
    if shutil.which("sinfo") is None:
        return "sinfo not found (run slurm/cluster-up.sh)"
    proc = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=30)
    states = proc.stdout.split()
    if proc.returncode != 0 or not any(s in ("idle", "mixed", "allocated", "completing") for s in states):
        return f"no usable Slurm node: {proc.stdout.strip() or proc.stderr.strip()}"
    return None


@pytest.fixture(scope="session")
def slurm_cluster() -> None:
    """Require the real local Slurm cluster (slurm/cluster-up.sh)."""
    reason = _slurm_ready()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs the local Slurm cluster: {reason}")
        pytest.skip(reason)
