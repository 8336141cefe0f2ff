"""The one way into a store file for reading: found, HDF5, of this format version, its checksums
intact (rvhpc/data/storesum.py); then its day axis, its text datasets and its two big series.

Every reader (``open_store``, ``data info``, ``data show``, the attribute table) opens the file
through :func:`open_checked`, so no reader ever sees a store of another format or one altered
since it was built.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from rvhpc.data.storesum import mapped, verify_checksums
from rvhpc.data.writer import FORMAT_VERSION
from rvhpc.errors import StoreError

_EPOCH = pd.Timestamp("1970-01-01")


def open_checked(path: Path) -> h5py.File:
    """The store file opened read-only, after its format version and checksums are checked.

    Parameters
    ----------
    path : Path
        The store file.

    Returns
    -------
    h5py.File
        Open; the caller closes it (``with open_checked(path) as f``).

    Raises
    ------
    StoreError
        No such file, not a readable HDF5 file, another format version, or a dataset whose
        checksum does not match: each says to (re)build it with ``rvhpc data prepare``.
    """
    if not path.is_file():
        raise StoreError(f"{path}: store not found; build it with `rvhpc data prepare`")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise StoreError(
            f"{path}: not a readable HDF5 store ({exc}); rebuild it with `rvhpc data prepare`"
        ) from None
    version = f.attrs.get("format_version")
    if version is None or int(version) != FORMAT_VERSION:
        f.close()
        raise StoreError(
            f"{path}: store format {version} is not {FORMAT_VERSION}; rerun `rvhpc data prepare`"
        )
    try:
        verify_checksums(f, path)
    except BaseException:
        f.close()
        raise
    return f


def stored_dates(f: h5py.File) -> pd.DatetimeIndex:
    """The store's whole daily axis (days since 1970-01-01 as stored)."""
    return _EPOCH + pd.to_timedelta(f["dates"][:].astype(np.int64), unit="D")


def stored_text(ds: h5py.Dataset) -> list[str]:
    """A text dataset (basin ids, descriptor names) as str."""
    return [b.decode() if isinstance(b, bytes) else str(b) for b in ds[:]]


def stored_series(f: h5py.File, path: Path, name: str) -> np.ndarray:
    """A big dataset (``forcing``, ``qobs``) as a copy-on-write memory map (in memory for an empty
    store)."""
    view = mapped(f[name], path, mode="c")
    return f[name][()] if view is None else view
