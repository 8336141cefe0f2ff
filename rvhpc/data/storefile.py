"""The HDF5 side of a store build: the file's structure, made by HDF5 in short-lived child
processes, while the series themselves are written with plain file writes (rvhpc/data/writer.py).

Why: when a disk fills up (or a quota, or a file-size limit, is reached) while HDF5 writes, HDF5
fails inside its own buffers: errors while objects are released, and measured here under a file
size limit, a segmentation fault. So HDF5 writes only small things, and only in a forked child:
(1) the file with every dataset known before the pass and the two big ones allocated at their
final size (contiguous, never filled), (2) after the pass, the per-basin numbers, scalers,
provenance and checksums. A child that fails or crashes is one clean error in the builder, which
removes the file. The series go in with ``os.pwrite`` at their datasets' offsets: a full disk there
is one OSError.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import traceback
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd

from rvhpc.data import storesum
from rvhpc.data.storeattrs import write_attributes


class ChildFailed(OSError):
    """An HDF5 step in a child process failed (its one-line reason, or the signal of its
    death)."""


def _child(conn, fn, args) -> None:
    # HDF5 reports a failed write on stderr over and over while it unwinds: the parent says it once
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        fn(*args)
        conn.send("")
    except BaseException as exc:  # noqa: BLE001 (reported to the parent, which raises)
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        conn.send(last.splitlines()[0][:300])
        raise SystemExit(1) from None


def in_child(fn, *args: Any) -> None:
    """``fn(*args)`` in a forked process; ChildFailed when it fails or dies (in this process
    where fork is not available)."""
    if "fork" not in mp.get_all_start_methods():
        fn(*args)
        return
    ctx = mp.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(send, fn, args))
    proc.start()
    send.close()
    try:
        message = receive.recv() if receive.poll(None) else ""
    except EOFError:
        message = ""
    proc.join()
    if proc.exitcode != 0:
        raise ChildFailed(message or f"HDF5 failed, killed by signal {-proc.exitcode}")


def create(path: Path, spec: dict) -> None:
    """The file with everything known before the pass; forcing and qobs allocated, not filled."""
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
    dcpl.set_fill_time(h5py.h5d.FILL_TIME_NEVER)
    text = h5py.string_dtype()
    with h5py.File(path, "w") as f:
        f.attrs.update(spec["attrs"])
        for name in ("forcing", "qobs"):
            f.create_dataset(name, spec["shapes"][name], np.float32, dcpl=dcpl)
        f.create_dataset("basins", data=np.array(spec["basins"], dtype=object), dtype=text)
        f.create_dataset("dates", data=spec["dates"]).attrs["units"] = "days since 1970-01-01"
        f.create_dataset("descriptors", data=spec["descriptors"])
        names = np.array(spec["descriptor_names"], dtype=object)
        f.create_dataset("descriptor_names", data=names, dtype=text)
        table = spec["attributes"]
        write_attributes(
            f.create_group("attributes"), table if table is not None else pd.DataFrame()
        )


def offsets(path: Path) -> dict[str, int]:
    """File offsets of the two series datasets (read-only: no write by HDF5)."""
    with h5py.File(path, "r") as f:
        return {name: int(f[name].id.get_offset()) for name in ("forcing", "qobs")}


def complete(path: Path, spec: dict) -> None:
    """After the pass: per-basin numbers, scalers, provenance, every dataset's checksum."""
    with h5py.File(path, "r+") as f:
        for name, values in spec["info"].items():
            f.create_dataset(name, data=values)
        for key, value in spec["scalers"].items():
            f.create_dataset(f"scalers/{key}", data=value)
        f.attrs["provenance"] = json.dumps(spec["provenance"])
        storesum.write_checksums(f, spec["digests"])


def check_readable(path: Path, n_basins: int) -> None:
    """The finished file opens and holds what the build wrote (OSError otherwise)."""
    try:
        with h5py.File(path, "r") as f:
            if len(f["basins"]) != n_basins or "scalers/q_std" not in f:
                raise OSError(f"{path}: incomplete store")
            int(f.attrs["format_version"])
    except KeyError as exc:
        raise OSError(f"{path}: incomplete store ({exc})") from None


def pwrite_all(fd: int, data: bytes | memoryview, offset: int) -> None:
    """Write all of ``data`` at ``offset`` (os.pwrite may write less)."""
    view = memoryview(data).cast("B")
    while len(view):
        done = os.pwrite(fd, view, offset)
        if done <= 0:
            raise OSError(28, "No space left on device")
        view, offset = view[done:], offset + done
