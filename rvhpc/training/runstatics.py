"""``statics.npz`` of a run directory: the static vectors a run trained on, written once before
training and compared on every resume.

The vectors are rebuilt from the config on every start; the file makes a run self-contained
(``rvhpc evaluate RUN_DIR`` reads it) and a resume refuses one that holds other vectors than its
config gives, never keeping a garbled or foreign file.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from rvhpc.atomic import atomic_path
from rvhpc.errors import RunDirError


def write_statics(path: Path, statics: Any) -> None:
    """Write statics.npz: the basins, the static vectors (an empty [n, 0] array for none), their
    column names and kind (atomic).

    Parameters
    ----------
    path : Path
        The file (``RunDir.statics_npz``).
    statics : rvhpc.data.statics.StaticVectors
    """
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(
                fh,
                basins=np.asarray(statics.basins, dtype=str),
                values=_values(statics),
                names=np.asarray(statics.names, dtype=str),
                kind=np.asarray(statics.kind),
            )


def read_statics(path: Path) -> tuple[list[str], np.ndarray]:
    """The basins and vectors of statics.npz.

    Parameters
    ----------
    path : Path
        The file (``RunDir.statics_npz``).

    Returns
    -------
    (list of str, np.ndarray)
        The basins, and float32 vectors [n, d] (d = 0 for none).

    Raises
    ------
    RunDirError
        Missing or unreadable.
    """
    if not path.exists():
        raise RunDirError(f"{path} is missing: this is not a (complete) rvhpc run directory")
    try:
        with np.load(path) as npz:
            return [str(b) for b in npz["basins"]], np.asarray(npz["values"], dtype=np.float32)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise RunDirError(
            f"{path}: unreadable ({type(exc).__name__}); delete it and rerun "
            "rvhpc train (it is rebuilt from the config), or start over with --force"
        ) from None


def check_statics(path: Path, statics: Any) -> None:
    """Refuse a statics.npz that is unreadable or holds other vectors than this run's.

    Parameters
    ----------
    path : Path
        The file (``RunDir.statics_npz``).
    statics : rvhpc.data.statics.StaticVectors
        The vectors this run's config gives.

    Raises
    ------
    RunDirError
    """
    basins, values = read_statics(path)
    if basins != list(statics.basins) or not np.array_equal(values, _values(statics)):
        raise RunDirError(
            f"{path} holds other static vectors than this run's config gives; "
            "delete it and rerun rvhpc train (it is rebuilt), or start over with --force"
        )


def _values(statics: Any) -> np.ndarray:
    """The vectors as stored: an empty [n, 0] array for a run without statics."""
    if statics.values is not None:
        return statics.values
    return np.zeros((len(statics.basins), 0), np.float32)
