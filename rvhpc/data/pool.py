"""Reading many basin files in parallel, results in list order, with a bounded number in flight.

A fork-started process pool (the children need nothing but file paths and start at once) reads
basins ahead of the caller; at most ``ahead`` results wait at any time, so the memory of a store
build does not grow with the number of basins however slow the writer is. Small jobs and machines
with few CPUs read in this process: measured on 2 CPUs, the pool's pickling and the parent's own
share of the CPU ate the gain.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

#: fewer basins than this are read in this process (a pool costs more than it saves)
POOL_MIN_BASINS = 64
POOL_MIN_CPUS = 4


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask, e.g. a Slurm allocation)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def workers_for(n_items: int) -> int:
    """Processes for reading ``n_items`` basins: one per usable CPU, none for a handful."""
    cpus = usable_cpus()
    if (
        n_items < POOL_MIN_BASINS
        or cpus < POOL_MIN_CPUS
        or "fork" not in mp.get_all_start_methods()
    ):
        return 1
    return min(cpus, n_items // (POOL_MIN_BASINS // 2))


def _run_chunk(func: Callable, chunk: list[tuple]) -> list:
    return [func(*args) for args in chunk]


def ordered_map(
    func: Callable[..., Any],
    args: Sequence[tuple],
    workers: int | None = None,
    chunk: int = 8,
) -> Iterator[Any]:
    """``func(*a)`` for every ``a`` of ``args``, yielded in order (``func`` a module-level
    function). An exception of ``func`` is raised in the caller, the remaining work cancelled."""
    workers = workers_for(len(args)) if workers is None else workers
    if workers <= 1:
        for a in args:
            yield func(*a)
        return
    chunks = [list(args[i : i + chunk]) for i in range(0, len(args), chunk)]
    ahead = 2 * workers
    pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("fork"))
    pending: deque[Future] = deque()
    try:
        it = iter(chunks)
        for part in it:
            pending.append(pool.submit(_run_chunk, func, part))
            if len(pending) >= ahead:
                break
        while pending:
            results = pending.popleft().result()
            nxt = next(it, None)
            if nxt is not None:
                pending.append(pool.submit(_run_chunk, func, nxt))
            yield from results
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
