"""Fixtures of the training tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.training.trainhelp import rvhpc, train_args


@pytest.fixture(scope="session")
def trained_run(tiny_store, tmp_path_factory) -> Path:
    """A finished 2-epoch tiny EA-LSTM run (physics statics); treat it as read-only."""
    out = tmp_path_factory.mktemp("trained") / "run"
    proc = rvhpc(*train_args(tiny_store, out))
    assert proc.returncode == 0, proc.stderr
    return out
