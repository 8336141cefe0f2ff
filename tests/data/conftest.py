"""Fixtures of the data tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.data.handmade import make_tree


@pytest.fixture
def handmade(tmp_path) -> Path:
    """A fresh hand-made tree (2 basins, 40 days from 2000-01-01) in a per-test folder."""
    return make_tree(tmp_path / "camels")
