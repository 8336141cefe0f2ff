"""The one way rvhpc reads a torch file: as data (``torch.load(..., weights_only=True)``).

A torch file is a pickle, and unpickling may call any function the file names. Checkpoints and
reference weights may come from another account on a shared file system, so they are read with
torch's restricted unpickler, which builds tensors and plain values only. A file naming anything
else raises :class:`NotData` and nothing of it runs.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch


class NotData(Exception):
    """The file holds objects other than tensors and plain data (it was not loaded)."""


def load_data(path: str | Path, allow: Sequence[Any] = ()) -> Any:
    """``torch.load(path, weights_only=True)`` on the CPU, ``allow`` added to the safe globals.

    Raises
    ------
    NotData
        The file names a global outside torch's allowlist and ``allow``.
    Exception
        What torch raises for a missing, truncated or foreign file.
    """
    try:
        with torch.serialization.safe_globals(list(allow)):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "GLOBAL " in str(exc):  # torch's words for a refused global (function or class)
            raise NotData(str(path)) from None
        raise
