"""``rvhpc data prepare``: the store of a dataset reader's basins, built once and reused.

Safe to run from many processes at once (a file lock: one builds, the others wait and reuse),
never shows a half-written file under the final name (temporary file + ``rvhpc.atomic``), and
rebuilds when the fingerprint of its inputs changed. The build is the one pass of
``rvhpc data check`` with a :class:`~rvhpc.data.writer.StoreWriter` attached: each file is read
once, each basin written as it is read.

An interrupted build does not resume: it starts over. A build reads at about the speed of the
files' own parse (benchmarks/scale_store.py), so a resumable one would save less than the
bookkeeping would cost; the temporary file of a killed build is removed by the next prepare.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
from collections.abc import Callable
from pathlib import Path

from rvhpc import progress
from rvhpc.atomic import atomic_path, stale_temps
from rvhpc.data.check import check_source, new_report
from rvhpc.data.check import parse_period as parse_check_period
from rvhpc.data.check_report import CheckReport
from rvhpc.data.datasets.base import Dataset
from rvhpc.data.storesum import checksums_ok
from rvhpc.data.writer import FORMAT_VERSION, StoreWriter
from rvhpc.errors import DataError, StoreError
from rvhpc.locks import file_lock
from rvhpc.periods import PAPER_EVAL_PERIOD, PAPER_TRAIN_PERIOD, parse_period


def fingerprint(source: Dataset, train_period: tuple, eval_period: tuple) -> str:
    """Hash of the reader's settings, the basins, the periods and the path, size and mtime of
    every input file (the dataset may give the fields: :meth:`Dataset.fingerprint_fields`)."""
    report = new_report(source, train_period, eval_period)
    located = source.locate(report, [])

    def stats(paths: list[Path]) -> list:
        out = []
        for path in paths:
            try:
                st = path.stat()
            except OSError:
                continue
            out.append([str(path.resolve()), st.st_size, st.st_mtime_ns])
        return out

    periods = [[str(d.date()) for d in p] for p in (report.train_period, report.eval_period)]
    fields = source.fingerprint_fields(located, periods, stats)
    if fields is None:
        paths = [source.basin_file, *source.attribute_files()]
        paths += [p for b in source.basins for p in located.get(b, [])]
        fields = dict(
            format=FORMAT_VERSION,
            settings=source.settings(),
            basins=source.basins,
            train=periods[0],
            eval=periods[1],
            files=stats(paths),
        )
    return hashlib.sha256(json.dumps(fields).encode()).hexdigest()


def stored_fingerprint(path: str | os.PathLike) -> str | None:
    """The fingerprint of an existing, readable store of this format, else None."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            if int(f.attrs.get("format_version", -1)) != FORMAT_VERSION:
                return None
            return str(f.attrs["fingerprint"])
    except (OSError, KeyError):
        return None


def _reusable(out: Path, fp: str) -> bool:
    """The store exists, was built from these inputs, and its contents match their checksums."""
    return out.exists() and stored_fingerprint(out) == fp and checksums_ok(out)


def check_command(source: Dataset, train_period: tuple, eval_period: tuple) -> str:
    """The ``rvhpc data check`` command line that reports on these inputs."""
    periods = [
        "--train-start", str(train_period[0]), "--train-end", str(train_period[1]),
        "--eval-start", str(eval_period[0]), "--eval-end", str(eval_period[1]),
    ]  # fmt: skip
    return shlex.join(["rvhpc", "data", "check", *source.cli_args(), *periods])


def prepare(
    source: Dataset,
    out: str | os.PathLike,
    train_period: tuple = PAPER_TRAIN_PERIOD,
    eval_period: tuple = PAPER_EVAL_PERIOD,
    batch: int | None = None,
    workers: int | None = None,
    before_rebuild: Callable[[Path], None] | None = None,
) -> Path:
    """Build the store ``out`` of ``source``'s basins, or reuse it when its inputs are unchanged.

    Parameters
    ----------
    source : the dataset reader (rvhpc.data.datasets.open_dataset)
    out : the HDF5 file to write
    train_period, eval_period : (first day, last day), inclusive
    batch : basins per write (None: about 32 MB of rows); the store does not depend on it
    workers : reader processes (None: one per CPU for many basins)
    before_rebuild : called with ``out`` before a readable store built from other inputs is
        replaced; it may raise to keep it

    Returns
    -------
    The path of the (new or reused) store.

    Raises
    ------
    DataError
        The first error of the checks (and how many more), as one line; no store is written.
    StoreError
        ``out`` is a folder, the lock cannot be made, the disk is too small or a write fails.
    """
    out = Path(out)
    if out.is_dir():
        raise StoreError(
            f"--out {out} is a folder; give the store's file name, e.g. {out}/store.h5"
        )
    for name, period in (("train", train_period), ("eval", eval_period)):
        try:
            parse_period(period)
        except ValueError as exc:
            raise DataError(f"{name} period {list(period)!r}: {exc}") from None
    fp = fingerprint(source, train_period, eval_period)
    if _reusable(out, fp):
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(
        out, f"--out {out}", "write the store into a folder you can write to", StoreError
    ):
        # another process may have built it while we waited for the lock
        if _reusable(out, fp):
            progress.log(f"reusing {out} (built by another process)")
            return out
        if out.exists() and stored_fingerprint(out) == fp:
            progress.log(f"{out}: its contents do not match their checksums: rebuilding it")
        if before_rebuild is not None and stored_fingerprint(out) not in (None, fp):
            before_rebuild(out)
        for stale in stale_temps(out):  # of a killed build (we hold the lock)
            stale.unlink(missing_ok=True)
        with atomic_path(out) as tmp:
            progress.log(f"building {out} from {source.describe()} ({len(source.basins)} basins)")
            build(source, tmp, fp, train_period, eval_period, batch, workers, name=out)
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
    return out


def build(
    source, tmp, fp, train_period, eval_period, batch=None, workers=None, name=None
) -> CheckReport:
    """The check pass writing into ``tmp``; a second pass only when a file's rows reach past its
    first and last line (the date axis is sized from those)."""
    periods = (parse_check_period("train", train_period), parse_check_period("eval", eval_period))
    writer = StoreWriter(tmp, source, fp, periods, batch, name=name)
    try:
        report = check_source(source, train_period, eval_period, writer, workers)
        for finding in report.warnings:
            progress.log(f"warning: {finding.message}")
        for finding in report.errors:
            progress.log(f"error: {finding.message}")
        report.raise_for_errors(check_command(source, train_period, eval_period))
        if not writer.axis_ok:
            writer.close()
            axis = tuple(writer.extent)
            writer = StoreWriter(tmp, source, fp, periods, batch, axis=axis, name=name)
            report = check_source(source, train_period, eval_period, writer, workers)
        writer.finish(report)
    finally:
        writer.close()
    return report
