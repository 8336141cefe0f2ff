"""Portable numerics spread a training recurrence's batch rows over the cell's threads in blocks
(rvhpc.models.rowblocks): the blocks must start where OpenBLAS's row tiles do, the lanes must
carry the caller's per-thread state, and a recurrence must give the bits of one thread on any
thread count."""

from __future__ import annotations

import pytest
import torch

from rvhpc import kernels
from rvhpc.models import rowblocks
from rvhpc.models.recurrence import last_hidden


@pytest.mark.parametrize(
    ("rows", "threads", "width", "n_blocks"),
    [(256, 2, 256, 2), (256, 3, 256, 3), (256, 16, 256, 5), (104, 2, 117, 2), (69120, 2, 5, 2),
     (47, 2, 8, 1), (95, 2, 8, 1)],
)  # fmt: skip
def test_blocks_start_on_the_tile_and_cover_every_row(rows, threads, width, n_blocks):
    got = rowblocks.blocks(rows, threads, width)
    unit = rowblocks.TILE * (1 if width % 2 == 0 else 2)
    assert [r.start for r in got][0] == 0 and got[-1].stop == rows
    assert all(a.stop == b.start for a, b in zip(got, got[1:], strict=False))
    assert all(r.start % unit == 0 and r.start * width % 16 == 0 for r in got)
    assert all(r.stop - r.start >= rowblocks.MIN_ROWS for r in got) or len(got) == 1
    assert len(got) == n_blocks


def test_openblas_rows_are_independent_on_the_tile_only():
    """Why blocks start at multiples of 24: a row's bits are those of the whole product only
    when its block starts on OpenBLAS's Haswell row tile."""
    assert kernels.openblas_matmul(), "the tests run in portable numerics (tests/conftest.py)"
    from rvhpc.models.members import _blas_mm

    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(256, 256, generator=gen), torch.randn(256, 768, generator=gen)
    kernels.set_openblas_threads(1)
    whole = _blas_mm(a, b)
    on_tile = torch.cat([_blas_mm(a[:120], b), _blas_mm(a[120:], b)])
    off_tile = torch.cat([_blas_mm(a[:128], b), _blas_mm(a[128:], b)])
    assert torch.equal(whole, on_tile)
    assert not torch.equal(whole, off_tile)  # the edge tile sums in another order


def test_lanes_keep_order_raise_and_carry_the_denormal_mode():
    tasks = [lambda k=k: (k, rowblocks._flushing(), torch.is_grad_enabled()) for k in range(5)]
    before = rowblocks._flushing()
    try:
        for flush in (True, False):
            torch.set_flush_denormal(flush)
            got = rowblocks.run(tasks, threads=2)
            assert [g[0] for g in got] == list(range(5))
            assert all(g[1] == flush and g[2] is False for g in got)
    finally:
        torch.set_flush_denormal(before)
    assert kernels.denormals() != "mixed"

    def fails():
        raise ValueError("lane")

    with pytest.raises(ValueError, match="lane"):
        rowblocks.run([lambda: 1, fails, lambda: 3], threads=2)


def _train_once(batch, hidden, ea, per_sample, threads, seed=0, steps=12):
    gen = torch.Generator().manual_seed(seed)
    n_gate = (3 if ea else 4) * hidden
    x = torch.randn(1, batch, steps, 5, generator=gen)
    bias_shape = (1, batch, n_gate) if per_sample else (1, n_gate)
    params = [
        torch.randn(1, 5, n_gate, generator=gen) * 0.3,
        torch.randn(1, hidden, n_gate, generator=gen) * 0.1,
        torch.randn(*bias_shape, generator=gen),
    ] + ([torch.rand(1, batch, hidden, generator=gen)] if ea else [])
    params = [p.requires_grad_() for p in params]
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        assert rowblocks.threads_for(x.transpose(1, 2), params[1]) == threads
        h = last_hidden(x, *params[:3], params[3] if ea else None)
        h.square().sum().backward()
    finally:
        torch.set_num_threads(old)
    return [h.detach()] + [p.grad for p in params]


@pytest.mark.parametrize(
    ("batch", "hidden", "ea", "per_sample"),
    [(96, 128, True, False), (96, 112, False, True), (104, 117, True, False)],
    ids=["ea", "four-gate-per-sample-bias", "odd-hidden"],
)
def test_training_recurrence_gives_one_threads_bits_on_any_thread_count(
    batch, hidden, ea, per_sample
):
    """h_T and every gradient: 2 and 3 threads (row blocks) against 1 (no blocks), at shapes
    whose step product goes to OpenBLAS."""
    one = _train_once(batch, hidden, ea, per_sample, threads=1)
    for threads in (2, 3):
        got = _train_once(batch, hidden, ea, per_sample, threads=threads)
        for k, (a, b) in enumerate(zip(one, got, strict=True)):
            assert torch.equal(a, b), f"output {k} differs on {threads} threads"
