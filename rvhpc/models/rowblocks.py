"""The recurrence's batch rows in blocks, one block per thread of the cell (portable numerics, the
CPU), with the bits of a one-thread run whatever the thread count.

Why: in portable numerics the recurrence's products run on OpenBLAS and its pointwise work on
torch's ops, and the two thread pools cannot share the cores (both spin after each parallel
region: 32 samples/s at the paper's shape on 2 cores, see :func:`members.blas_threads`). So the
pointwise work ran on one thread, and at the paper's shape (EA, hidden 256, batch 256, seq 270)
it is a third of the step: on one core of an Intel Xeon the products took 0.77 s of a 1.23 s
step (106 GFLOP/s). But the rows of a batch never meet inside the recurrence: each block of
rows can run all T steps on a thread of its own, its products on one OpenBLAS thread and its
pointwise ops on torch's, both outside the GIL. Only the weight gradients sum over the rows;
they are split by their output rows instead. Measured on that Xeon, 2 threads, old and new code
one after the other: EA 259 -> 352 samples/s, CT 209 -> 278 (forward 0.46 -> 0.28 s, backward
0.75 -> 0.44 s against one thread).

Blocks start at multiples of :data:`TILE` rows. OpenBLAS's Haswell sgemm computes rows in tiles of
24, and an edge tile sums in another order: the top 128 rows of a [256, 256] x [256, 768] product
differed from a [128, 256] x [256, 768] product of the same rows in 2.5 % of their elements, while
a cut at a multiple of 24 gave the same bits (for the step, its gradient and the weight gradient,
measured on that Xeon; the kernel, and so the tile, is the one of the core type OpenBLAS is
told). torch's vectorised loops leave a scalar tail of fewer than 16 elements; a cut at a row r
with r * hidden a multiple of 16 puts that tail on the same elements, hence 48-row units for an
odd hidden size. A block's numbers are then those of one thread running all rows, and a
portable training recurrence (forward and every gradient) gives the same bits on 1, 2 or more
threads (tests/models/test_rowblocks.py); before, OpenBLAS split each product by its own thread
count and 1 and 2 threads differed. Evaluation's forward-only pass is not split: its per-step
input products stay on MKL, whose rows are not known to be independent of the block.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import torch

from rvhpc.models.members import openblas_shape, per_member

T = TypeVar("T")

#: OpenBLAS's Haswell sgemm row tile (SGEMM_DEFAULT_UNROLL_M): blocks start at its multiples
TILE = 24
#: below this many rows per thread a block's steps are too small to pay for a thread
MIN_ROWS = 2 * TILE

#: the lanes' threads, and how many it has (kept, not read from the executor's private state)
_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_pool_lock = threading.Lock()


def blocks(rows: int, threads: int, width: int = 2) -> list[slice]:
    """``rows`` cut into at most ``threads`` blocks of near-equal size, each starting at a
    multiple of :data:`TILE` (of 2 * TILE where ``width``, the elements per row, is odd) and
    holding at least :data:`MIN_ROWS` rows; one block where there are not rows enough."""
    unit = TILE if width % 2 == 0 else 2 * TILE
    units, per_block = rows // unit, -(-MIN_ROWS // unit)
    n = max(1, min(threads, units // per_block))
    bounds = [0, *(unit * (units * k // n) for k in range(1, n)), rows]
    return [slice(a, b) for a, b in zip(bounds, bounds[1:], strict=False)]


def _executor(workers: int) -> ThreadPoolExecutor:
    global _pool, _pool_size
    with _pool_lock:
        if _pool is None or _pool_size < workers:
            old, _pool = _pool, ThreadPoolExecutor(workers, thread_name_prefix="rvhpc-rows")
            _pool_size = workers
            if old is not None:
                old.shutdown(wait=False)
        return _pool


def _flushing() -> bool:
    """Whether the calling thread flushes denormals (a per-thread CPU setting)."""
    return bool(torch.tensor([1e-39]).mul_(1.0)[0] == 0)


def run(tasks: Sequence[Callable[[], T]], threads: int | None = None) -> list[T]:
    """Every task's result, in order, the tasks dealt round-robin to ``threads`` lanes (default:
    one each): the first lane runs on the calling thread, the others each on a pool thread,
    under ``no_grad`` and the caller's denormal handling (both are per thread). The first error
    is raised once every lane has ended."""
    lanes = max(1, min(len(tasks), threads or len(tasks)))
    if lanes == 1:
        return [task() for task in tasks]
    flush = _flushing()

    def lane(k: int) -> list[T]:
        torch.set_flush_denormal(flush)
        with torch.no_grad():
            return [task() for task in tasks[k::lanes]]

    futures = [_executor(lanes - 1).submit(lane, k) for k in range(1, lanes)]
    done: list[list[T]] = []
    error: BaseException | None = None
    try:
        done.append(lane(0))
    except BaseException as exc:  # noqa: BLE001 - re-raised once the other lanes have ended
        error = exc
    for future in futures:
        try:
            done.append(future.result())
        except BaseException as exc:  # noqa: BLE001 - the first one is re-raised below
            error = error or exc
    if error is not None:
        raise error
    return [done[k % lanes][k // lanes] for k in range(len(tasks))]


def threads_for(x: torch.Tensor, w_hh: torch.Tensor) -> int:
    """The threads a training recurrence over ``x`` [K, T, B, n] spreads its rows over: torch's
    thread count where a member's step product goes to OpenBLAS (portable numerics, the CPU)
    and its batch makes two blocks or more; 1 otherwise.

    Not in ``fast`` numerics: there oneDNN and MKL compute on torch's own thread pool, which
    also runs the pointwise work, so no two pools fight, and blocks did not pay (paper's shape,
    2 threads: EA 397 against 472 samples/s on oneDNN, 477 against 531 on MKL at
    AVX2; CT 336 against 314 and 316 against 322), on the Intel Xeon above."""
    batch, hidden, n_gate = x.shape[-2], w_hh.shape[-2], w_hh.shape[-1]
    n = torch.get_num_threads()
    if n < 2 or not per_member(x) or not openblas_shape(batch, hidden, n_gate, x):
        return 1
    return n if len(blocks(batch, n, hidden)) > 1 else 1
