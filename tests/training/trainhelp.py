"""Helpers of the training tests: run the real ``rvhpc`` CLI in a subprocess, compare runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from rvhpc.numerics import PORTABLE_ENV

#: the tiny settings every training test uses (a few seconds per run on one core)
TINY = [
    "--hidden",
    "8",
    "--seq-length",
    "30",
    "--batch-size",
    "32",
    "--threads",
    "1",
    "--log-every",
    "1",
]


def cli_env(**extra: str) -> dict[str, str]:
    """The environment of a user's shell: no job variables, and not the numerics settings the
    test process put itself in (tests/conftest.py): each command sets its own."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            ("SLURM_", "RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_", "TORCHELASTIC", "RVHPC_NUM")
        )
        and k not in PORTABLE_ENV
    }
    env.update({"OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", "COLUMNS": "200"})
    env.update(extra)
    return env


def rvhpc(
    *args: object, timeout: float = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run ``python -m rvhpc ARGS`` and capture both streams."""
    return subprocess.run(
        [sys.executable, "-m", "rvhpc", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or cli_env(),
    )


def run_tree(
    cmd: list[str], timeout: float = 600, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    """Run a launcher (torchrun, sbatch) in its own session; on timeout kill its whole process group
    so no rank outlives the test."""
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env or cli_env(),
        cwd=cwd,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(
            f"{cmd[0]} timed out after {timeout} s; stderr tail:\n{err[-3000:]}"
        ) from None
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def train_args(store: Path, out: Path, *extra: object, epochs: int = 2) -> list[object]:
    return ["train", "--store", store, "--out", out, "--epochs", epochs, *TINY, *extra]


def weights(run_dir: Path, epoch: int) -> dict[str, torch.Tensor]:
    return torch.load(Path(run_dir) / "checkpoints" / f"epoch_{epoch:03d}.pt", weights_only=True)[
        "model"
    ]


def assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), f"weights differ in {key}"


def assert_same_predictions(run_a: Path, run_b: Path) -> None:
    pa = pd.read_parquet(Path(run_a) / "predictions.parquet")
    pb = pd.read_parquet(Path(run_b) / "predictions.parquet")
    pd.testing.assert_frame_equal(pa, pb, check_exact=True)
    assert np.array_equal(pa["qsim"].to_numpy(), pb["qsim"].to_numpy(), equal_nan=True)
