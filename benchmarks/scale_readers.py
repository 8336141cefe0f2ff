"""One copy per node (issue 22 item 2), for benchmarks/scale_store.py: the private (USS) and
proportional (PSS) memory of 1, 2, 4 processes that open one store for training, the store
mapped (rvhpc now) or copied into each process (rvhpc at 4605e86: ``open_store`` read the day
slice into memory), and the window-sampling throughput from the mapped store against an
in-memory copy with a warm page cache."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.scale_trees import caravan_tree

SEQ, BATCH = 270, 256
MB = 1e6

_READER = """
import sys
import numpy as np
from rvhpc.data.sampler import WindowSampler
from rvhpc.data.store import open_store
path, mode = sys.argv[1], sys.argv[2]
if mode != "bare":
    store = open_store(path, period="train", warmup=269)
    if mode == "copy":  # what open_store did at 4605e86: the day slice read into memory
        store.forcing = np.ascontiguousarray(store.forcing)
        store.qobs = np.ascontiguousarray(store.qobs)
    sampler = WindowSampler(store, seq_length=270)
    rows = sampler.train_samples()
    rng = np.random.default_rng(0)
    for _ in range(100):
        sampler.batch(rows[rng.integers(0, len(rows), 256)])
print("ready", flush=True)
sys.stdin.readline()
"""


def _rollup(pid: int) -> dict[str, int]:
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                out[parts[0].rstrip(":")] = int(parts[1]) * 1024
    return out


def _file_pss(pid: int, path: Path) -> int:
    """PSS of the pages of ``path`` mapped by ``pid``."""
    total, inside = 0, False
    with open(f"/proc/{pid}/smaps") as fh:
        for line in fh:
            head = line.split()
            if head and "-" in head[0] and len(head) >= 5:
                inside = len(head) >= 6 and head[-1] == str(path)
            elif inside and line.startswith("Pss:"):
                total += int(head[1]) * 1024
    return total


def processes(store: Path, mode: str, k: int) -> dict:
    """``k`` reader processes alive together; their memory as they hold the store."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _READER, str(store), mode],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for _ in range(k)
    ]
    try:
        for p in procs:
            if p.stdout.readline().strip() != "ready":
                raise RuntimeError(p.stderr.read()[-2000:])
        rows = []
        for p in procs:
            r = _rollup(p.pid)
            rows.append(dict(
                uss=r["Private_Clean"] + r["Private_Dirty"], pss=r["Pss"], rss=r["Rss"],
                store_pss=_file_pss(p.pid, store),
            ))  # fmt: skip
    finally:
        for p in procs:
            if p.poll() is None:
                p.stdin.write("\n")
                p.stdin.flush()
            p.wait(timeout=120)
    return dict(
        processes=k,
        uss_mb=[round(r["uss"] / MB, 1) for r in rows],
        pss_total_mb=round(sum(r["pss"] for r in rows) / MB, 1),
        store_pss_total_mb=round(sum(r["store_pss"] for r in rows) / MB, 1),
    )


def throughput(store_path: Path, rounds: int, batches: int = 40) -> dict:
    """Windows per second from the mapped store and from an in-memory copy, rounds alternating."""
    from rvhpc.data.sampler import WindowSampler
    from rvhpc.data.store import open_store

    mapped = open_store(store_path, period="train", warmup=SEQ - 1)
    copy = dataclasses.replace(
        mapped, forcing=np.ascontiguousarray(mapped.forcing), qobs=np.ascontiguousarray(mapped.qobs)
    )
    samplers = {"mapped": WindowSampler(mapped, SEQ), "memory": WindowSampler(copy, SEQ)}
    rows = samplers["mapped"].train_samples()
    rng = np.random.default_rng(1)
    plan = [rows[rng.integers(0, len(rows), BATCH)] for _ in range(batches)]
    for s in samplers.values():  # warm: every page of the slice touched once
        s.train_samples()
        for r in plan[:5]:
            s.batch(r)
    times: dict[str, list[float]] = {k: [] for k in samplers}
    for r in range(rounds):  # alternating, and each round in the other order
        for name in sorted(samplers, reverse=bool(r % 2)):
            start = time.perf_counter()
            for rows_ in plan:
                samplers[name].batch(rows_)
            times[name].append(time.perf_counter() - start)
    rate = {k: batches * BATCH / min(v) for k, v in times.items()}
    paired = sorted(m / p for m, p in zip(times["memory"], times["mapped"], strict=True))
    ratio = rate["mapped"] / rate["memory"]
    return dict(
        train_samples=len(rows),
        train_samples_bytes=int(rows.nbytes),
        windows_per_s={k: round(v) for k, v in rate.items()},
        ratio=round(ratio, 3),
        ratio_how="fastest round of each; median of the per-round ratios: "
        f"{paired[len(paired) // 2]:.3f}",
        rounds=rounds,
        target=">= 0.9",
        met=ratio >= 0.9,
    )


def reader_part(work: Path, n: int, years: int, counts, rounds: int) -> dict:
    """Memory of 1, 2, 4 readers (mapped and copied) and the sampling throughput."""
    from rvhpc import progress
    from rvhpc.data.store import prepare_store

    progress.set_quiet(True)
    tree = caravan_tree(work, n, years)
    store = prepare_store(
        tree["root"], tree["basins"], work / f"readers-{n}.h5", dataset="caravan",
        train_period=tree["periods"][0], eval_period=tree["periods"][1],
    )  # fmt: skip
    out: dict = dict(basins=n, years=years, store_mb=round(store.stat().st_size / MB, 1))
    # two at a time: pages of a library or of the store that one process alone maps count in its
    # USS (nobody shares them), so a lone process would overstate its private memory
    out["bare_process"] = processes(store, "bare", 2)
    for mode in ("mapped", "copy"):
        out[mode] = [processes(store, mode, k) for k in counts]
    bare = max(out["bare_process"]["uss_mb"])
    shared = [u for r in out["mapped"] if r["processes"] > 1 for u in r["uss_mb"]]
    out["summary"] = dict(
        extra_process_uss_mb=max(shared),
        extra_process_uss_how="the largest USS of a reader among 2 or 4 (the store's pages, "
        "and the libraries', are shared then)",
        extra_process_uss_target="<= 300",
        extra_process_uss_met=max(shared) <= 300,
        uss_of_imports_only_mb=bare,
        store_pss_by_processes={
            str(r["processes"]): r["store_pss_total_mb"] for r in out["mapped"]
        },
        counted_once=out["mapped"][-1]["store_pss_total_mb"]
        <= 1.1 * out["mapped"][0]["store_pss_total_mb"],
        copy_uss_by_processes={str(r["processes"]): r["uss_mb"] for r in out["copy"]},
    )
    out["throughput"] = throughput(store, rounds=max(9, rounds))
    return out
