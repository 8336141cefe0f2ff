"""Content checksums of a basin store: one sha256 per dataset, kept in the dataset's ``sha256``
attribute.

The store's fingerprint says which inputs it was built from, not that its bytes are still those:
a store altered afterwards (by hand, a bad copy, a damaged disk) kept its header and was trained
on. ``prepare_store`` writes the checksums and checks them before reusing a store (rebuilding one
that fails), and every reader (``open_store``, ``data info``, ``data show``) checks them before
use. The check reads each dataset once, in blocks of rows (a store of 531 basins is read in well
under a second), and a failure names the dataset.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import h5py
import numpy as np

from rvhpc.errors import StoreError

ATTR = "sha256"
_BLOCK_BYTES = 32 << 20


def digest_start(dtype: np.dtype, shape: tuple) -> hashlib._Hash:
    """The sha256 of a dataset's dtype and shape, to be fed its values in row order."""
    return hashlib.sha256(f"{np.dtype(dtype).str}|{tuple(shape)}|".encode())


def mapped(ds: h5py.Dataset, path: Path, mode: str = "r") -> np.ndarray | None:
    """A memory map (numpy ``mode``: r, or c for copy-on-write) of a contiguous, unfiltered
    dataset of the file ``path`` (None for any other layout): its pages are the page cache's,
    shared by every process that maps them."""
    if ds.chunks is not None or ds.compression is not None or ds.dtype.kind not in "fiu":
        return None
    offset = ds.id.get_offset()
    if offset is None or ds.size == 0:
        return None
    return np.memmap(path, dtype=ds.dtype, mode=mode, offset=offset, shape=ds.shape)


def dataset_digest(ds: h5py.Dataset, path: Path | None = None) -> str:
    """sha256 of a dataset's dtype, shape and values (variable-length strings one by one); with
    ``path`` (a file open read-only) a contiguous dataset is hashed through a memory map."""
    h = digest_start(ds.dtype, ds.shape)
    if ds.shape == () or ds.size == 0:
        _update(h, np.asarray(ds[()]))
        return h.hexdigest()
    view = mapped(ds, path) if path is not None else None
    row_bytes = max(1, ds.size // ds.shape[0] * ds.dtype.itemsize)
    step = max(1, _BLOCK_BYTES // row_bytes)
    for start in range(0, ds.shape[0], step):
        if view is not None:
            h.update(memoryview(np.ascontiguousarray(view[start : start + step])).cast("B"))
        else:
            _update(h, np.asarray(ds[start : start + step]))
    return h.hexdigest()


def _update(h, block: np.ndarray) -> None:
    if block.dtype.kind != "O":
        h.update(np.ascontiguousarray(block).tobytes())
        return
    for value in block.ravel():
        raw = value if isinstance(value, bytes) else str(value).encode()
        h.update(len(raw).to_bytes(8, "little"))
        h.update(raw)


def _datasets(f: h5py.File) -> list[tuple[str, h5py.Dataset]]:
    found: list[tuple[str, h5py.Dataset]] = []
    f.visititems(
        lambda name, obj: found.append((name, obj)) if isinstance(obj, h5py.Dataset) else None
    )
    return found


def write_checksums(f: h5py.File, known: dict[str, str] | None = None) -> None:
    """Store every dataset's checksum in its ``sha256`` attribute (right after the build);
    ``known`` holds digests computed while the big datasets were written."""
    known = known or {}
    for name, ds in _datasets(f):
        ds.attrs[ATTR] = known.get(name) or dataset_digest(ds)


def verify_checksums(f: h5py.File, path: Path) -> None:
    """StoreError (one line: which dataset, rerun prepare) when a dataset's values changed."""
    datasets = _datasets(f)
    if not datasets:
        raise StoreError(f"{path}: the store holds no datasets; rerun `rvhpc data prepare`")
    for name, ds in datasets:
        expected = ds.attrs.get(ATTR)
        if expected is None:
            raise StoreError(
                f"{path}: dataset {name} carries no content checksum (a store of an older rvhpc, "
                "or not one of rvhpc); rerun `rvhpc data prepare` to rebuild it"
            )
        if dataset_digest(ds, path) != str(expected):
            raise StoreError(
                f"{path}: dataset {name} does not match its checksum (the store was altered or "
                "damaged after it was built); rerun `rvhpc data prepare` to rebuild it"
            )


def checksums_ok(path: Path) -> bool:
    """True when the store at ``path`` opens and every dataset matches its checksum."""
    try:
        with h5py.File(path, "r") as f:
            verify_checksums(f, Path(path))
        return True
    except (OSError, StoreError):
        return False
