"""rvhpc against neuralhydrology on one Caravan tree (issue 22, item 5): time from process start to
the first training batch, and the peak RSS of the process tree.

neuralhydrology's side is :func:`benchmarks.scale_nh.measure` (its ``Caravan`` dataset: every
basin's netCDF file read into one in-memory xarray, the scalers, the sample index, then the first
batch of a shuffled ``DataLoader``), in its own venv. rvhpc's side does what a training run does
before its first step, on the same netCDF files with the same inputs, descriptors, period,
sequence length and batch: ``prepare_store`` (skipped when the store exists), ``open_store`` of
the training days, ``WindowSampler.train_samples``, the epoch's order
(:func:`rvhpc.training.order.epoch_order`) and its first batch. It is measured twice: *cold*
(the store is built first, as the first run of a study does) and *warm* (the store exists, as
every later run and every other rank finds it). Both children run with ``OMP_NUM_THREADS=1``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from benchmarks.memtools import GIB, run_measured
from benchmarks.scale_trees import caravan_tree

SEQ, BATCH = 365, 256

_RVHPC = """
import json, sys, time
t0 = time.perf_counter()
import numpy as np
from rvhpc import progress
from rvhpc.data.sampler import WindowSampler
from rvhpc.data.store import open_store, prepare_store
from rvhpc.training.order import epoch_order
t_import = time.perf_counter() - t0
root, listed, out, first, last, seq, batch, inputs, descriptors = sys.argv[1:10]
seq, batch = int(seq), int(batch)
progress.set_quiet(True)
t1 = time.perf_counter()
prepare_store(root, listed, out, dataset="caravan", format="netcdf", inputs=inputs.split(","),
              descriptors=descriptors.split(","), train_period=(first, last),
              eval_period=(first, last))
t_prepare = time.perf_counter() - t1
store = open_store(out, period="train", warmup=seq - 1)
sampler = WindowSampler(store, seq_length=seq)
rows = sampler.train_samples()
order = epoch_order(len(rows), seed=0, epoch=1)
x, y, _, _ = sampler.batch(rows[order[:batch]])
print(json.dumps(dict(basins=len(store.basins), days=len(store.dates), samples=len(rows),
                      batch_x_d_shape=list(x.shape), import_s=round(t_import, 2),
                      prepare_s=round(t_prepare, 2),
                      first_batch_s=round(time.perf_counter() - t0, 2))), flush=True)
"""


def rvhpc_first_batch(tree: dict, out: Path, inputs, descriptors) -> dict:
    """One rvhpc child on ``tree`` writing (or reusing) the store ``out``; its timings and peak."""
    first, last = tree["span"]
    cmd = [sys.executable, "-c", _RVHPC, str(tree["root"]), str(tree["basins"]), str(out),
           first, last, str(SEQ), str(BATCH), ",".join(inputs), ",".join(descriptors)]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    r = run_measured(cmd, env=env, cwd=out.parent)
    if r["returncode"] != 0:
        raise RuntimeError(f"rvhpc first-batch child failed:\n{r['output'][-3000:]}")
    line = json.loads([ln for ln in r["output"].splitlines() if ln.startswith("{")][-1])
    peak = round(r["peak_rss_bytes"] / GIB, 3)
    return {**line, "wall_s": round(r["wall_s"], 2), "peak_rss_gib": peak}


def complete_descriptors(root: Path, wanted) -> list[str]:
    """The columns of ``wanted`` that every basin of the tree has (neuralhydrology refuses a NaN
    attribute; the synthetic LamaH basins, like the real ones, lack the ERA5-Land indices), so
    that both tools get the same descriptors."""
    import pandas as pd

    by_prefix: dict[str, list] = {}
    for path in sorted(root.glob("attributes/*/*.csv")):
        by_prefix.setdefault(path.parent.name, []).append(pd.read_csv(path, index_col="gauge_id"))
    joined = pd.concat([pd.concat(t, axis=1) for t in by_prefix.values()])
    return [c for c in wanted if c in joined and joined[c].notna().all()]


def first_batch_part(work: Path, sizes, years: int, nh_python: Path | None) -> dict:
    """neuralhydrology and rvhpc (cold and warm) on trees of ``sizes`` basins x ``years``.

    GRDC basins are left out of the trees (``caravan_tree(lowercase_only=True)``): neuralhydrology
    1.13.0 cannot find their files.

    Parameters
    ----------
    work : Path
        Scratch folder (trees and stores).
    sizes : sequence of int
        Basin counts.
    years : int
        Years of daily data per basin; both tools train on all of them.
    nh_python : Path | None
        The python of a venv with neuralhydrology; None or a missing file: rvhpc alone, and
        ``neuralhydrology_skipped`` says why.

    Returns
    -------
    dict
        The settings and, per size, ``rvhpc_cold``, ``rvhpc_warm``, ``neuralhydrology`` (each
        with samples, first_batch_s, peak_rss_gib, ...) and their ``ratios``.

    Raises
    ------
    RuntimeError
        An rvhpc child failed (its output is in the message).
    SystemExit
        The neuralhydrology child failed (:func:`benchmarks.scale_nh.measure`).
    """
    from benchmarks.scale_nh import measure as nh_measure
    from rvhpc.data.datasets.caravan_files import DEFAULT_DESCRIPTORS, DEFAULT_INPUTS

    out: dict = dict(seq_length=SEQ, batch_size=BATCH, years=years, inputs=list(DEFAULT_INPUTS),
                     sizes={})  # fmt: skip
    if nh_python is None or not Path(nh_python).exists():
        out["neuralhydrology_skipped"] = f"no neuralhydrology venv at {nh_python}"
    for n in sizes:
        tree = caravan_tree(work, n, years, lowercase_only=True)
        statics = complete_descriptors(tree["root"], DEFAULT_DESCRIPTORS)
        out["descriptors"] = statics
        store = work / f"first-batch-{n}.h5"
        store.unlink(missing_ok=True)
        entry = dict(
            rvhpc_cold=rvhpc_first_batch(tree, store, DEFAULT_INPUTS, statics),
            rvhpc_warm=rvhpc_first_batch(tree, store, DEFAULT_INPUTS, statics),
        )
        if "neuralhydrology_skipped" not in out:
            entry["neuralhydrology"] = nh_measure(
                tree["root"], None, SEQ, BATCH, DEFAULT_INPUTS, tuple(statics), nh_python
            )
            nh = entry["neuralhydrology"]
            entry["ratios"] = {
                f"nh_over_rvhpc_{k}": dict(
                    first_batch=round(
                        nh["first_batch_s"] / entry[f"rvhpc_{k}"]["first_batch_s"], 2
                    ),
                    peak_rss=round(nh["peak_rss_gib"] / entry[f"rvhpc_{k}"]["peak_rss_gib"], 2),
                )
                for k in ("cold", "warm")
            }
        out["sizes"][str(n)] = entry
    return out
