"""Operations over K members stacked along a leading axis, with each member's numbers on the CPU
exactly those of its run alone.

On a GPU the members are batched (``baddbmm``, one kernel over all of them). On the CPU they run
member by member, for two measured reasons: MKL's and oneDNN's results depend on the alignment of
their operands and on the batch they are handed (an N=1 ``bmm`` differed by 7e-15 between K=3 and
K=1 in float64), and torch's vectorised pointwise loops put their scalar tail on other elements
when the member axis is folded in. So a member's operands are handed over contiguous and 64-byte
aligned, as the allocator gives them to a run of its own, and nothing reduces across members.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch

from rvhpc.kernels import onednn_matmul, openblas_matmul, openblas_threads, set_openblas_threads


def _onednn_linear():
    """oneDNN's linear op, or None where this torch has none."""
    try:
        if not torch.backends.mkldnn.is_available():
            return None
        return torch.ops.mkldnn._linear_pointwise
    except (AttributeError, RuntimeError):
        return None


_ONEDNN = _onednn_linear()

#: the allocator's alignment: a member's slice is handed over at it, as in a run of its own
ALIGN = 64


def uses_onednn(t: torch.Tensor) -> bool:
    """Whether matmuls on ``t`` go through oneDNN's linear: float32 on the CPU where
    :func:`rvhpc.kernels.onednn_matmul` (oneDNN on, torch at AVX-512; never in portable
    numerics); otherwise MKL's sgemm."""
    return (
        _ONEDNN is not None
        and t.device.type == "cpu"
        and t.dtype == torch.float32
        and onednn_matmul()
    )


#: OpenBLAS's products from this many multiply-adds on (portable numerics): below, numpy's call
#: overhead outweighs the faster kernel (the demo's [256, 32] x [32, 96] stays on MKL)
OPENBLAS_MIN_MACS = 1 << 22


def uses_openblas(a: torch.Tensor, n_out: int) -> bool:
    """Whether the product of ``a`` [M, K] with a [K, n_out] operand goes to OpenBLAS: float32 on
    the CPU in portable numerics (:func:`rvhpc.kernels.openblas_matmul`), from
    :data:`OPENBLAS_MIN_MACS` on. The choice depends on the shape only, never on the machine."""
    return openblas_shape(a.shape[0], a.shape[1], n_out, a)


def openblas_shape(rows: int, inner: int, n_out: int, like: torch.Tensor) -> bool:
    """:func:`uses_openblas` for a [rows, inner] x [inner, n_out] product of ``like``'s kind."""
    return (
        like.device.type == "cpu"
        and like.dtype == torch.float32
        and rows * inner * n_out >= OPENBLAS_MIN_MACS
        and openblas_matmul()
    )


def _blas_mm(a: torch.Tensor, b: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """a @ b by numpy's OpenBLAS (sgemm; transposed views are passed as such, never copied),
    into ``out`` (contiguous) where given."""
    if out is None:
        out = a.new_empty(a.shape[0], b.shape[1])
    np.matmul(a.detach().numpy(), b.detach().numpy(), out=out.numpy())
    return out


@contextlib.contextmanager
def blas_threads(x: torch.Tensor, row_blocks: bool = False) -> Iterator[int]:
    """Inside, where :func:`rvhpc.kernels.openblas_matmul` (portable numerics, the CPU): torch's
    pointwise ops on one thread, and OpenBLAS's products on the threads torch had, or on one
    thread where the caller spreads ``row_blocks`` over them (:mod:`rvhpc.models.rowblocks`).
    Yields the threads torch had (1 where neither applies).

    Why: torch's OpenMP threads spin after each parallel region, and OpenBLAS's own threads after
    each product; the two pools then fight over the cores. Measured at the paper's shape (EA,
    hidden 256, batch 256, seq 270) on 2 cores: 32 samples/s with both pools at 2 threads, 296
    this way (one thread throughout: 222).
    """
    if x.device.type != "cpu" or not openblas_matmul():
        yield 1
        return
    n = torch.get_num_threads()
    want = 1 if row_blocks else n
    if openblas_threads() != want:
        set_openblas_threads(want)
    torch.set_num_threads(1)
    try:
        yield n
    finally:
        torch.set_num_threads(n)


def mm(
    a: torch.Tensor, b: torch.Tensor, out: torch.Tensor | None = None, blas: bool | None = None
) -> torch.Tensor:
    """a @ b for 2-D a, b (into ``out`` where given; OpenBLAS where :func:`uses_openblas`, or
    where ``blas`` says so: a block of rows goes where the whole product would).

    Why: at the paper's shape the input projection and its weight gradient are skinny products
    over all T*B rows (EA [5, 69120] x [69120, 768]): 66 ms on MKL's ``COMPATIBLE`` branch, 19 on
    OpenBLAS (2 threads, measured here)."""
    if uses_openblas(a, b.shape[1]) if blas is None else blas:
        return _blas_mm(a, b, out)
    return torch.mm(a, b) if out is None else torch.mm(a, b, out=out)


def mm_t(a: torch.Tensor, b: torch.Tensor, blas: bool | None = None) -> torch.Tensor:
    """a @ b.T for 2-D a, b (oneDNN's linear where :func:`uses_onednn`, else as :func:`mm`)."""
    if uses_onednn(a):
        return _ONEDNN(a, b, None, "none", [], "")
    return mm(a, b.t(), blas=blas)


def add_mm_(
    a: torch.Tensor,
    h: torch.Tensor,
    w: torch.Tensor,
    w_t: torch.Tensor | None,
    blas: bool | None = None,
) -> None:
    """a += h @ w in place for 2-D operands (``w_t``: w transposed and contiguous, needed only
    where :func:`uses_onednn`; ``blas`` as in :func:`mm`)."""
    if uses_onednn(a):
        a.add_(_ONEDNN(h, w_t, None, "none", [], ""))
    elif uses_openblas(h, w.shape[1]) if blas is None else blas:
        a.add_(_blas_mm(h, w))
    else:
        a.addmm_(h, w)


def per_member(t: torch.Tensor) -> bool:
    """Whether ``t``'s members run one by one (on the CPU) rather than batched."""
    return t.device.type == "cpu"


def aligned(t: torch.Tensor) -> torch.Tensor:
    """``t`` contiguous and 64-byte aligned (a copy only where it is not)."""
    if not t.is_contiguous():
        return t.contiguous()
    return t if t.data_ptr() % ALIGN == 0 else t.clone()


class _AlignGrad(torch.autograd.Function):
    """Identity whose backward hands on an aligned gradient (a member's slice of a stacked
    gradient sits at an arbitrary offset)."""

    @staticmethod
    def forward(ctx, t):
        return t.view_as(t)

    @staticmethod
    def backward(ctx, grad):
        return aligned(grad)


def member(t: torch.Tensor, k: int) -> torch.Tensor:
    """Member k of a stacked operand, aligned; a transposed view stays a transposed view."""
    m = t[k]
    if m.dim() == 2 and not m.is_contiguous() and m.t().is_contiguous():
        return aligned(m.t()).t()
    return aligned(m)


def blinear(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """x [K, B, n] @ w [K, n, m] + b [K, m] -> [K, B, m] (autograd-friendly)."""
    if not per_member(x):
        return torch.baddbmm(b.unsqueeze(1), x, w)
    return torch.stack(
        [
            _AlignGrad.apply(torch.addmm(aligned(b[k]), aligned(x[k]), member(w, k)))
            for k in range(x.shape[0])
        ]
    )


def pointwise(fn, t: torch.Tensor) -> torch.Tensor:
    """``fn`` (a transcendental such as sigmoid) over [K, ...], member by member on the CPU.

    Over a contiguous [K, ...] tensor torch's kernel runs as one loop whose scalar tail (std::exp
    instead of the vectorised exp) would fall on other elements than in a member's own run.
    """
    if not per_member(t):
        return fn(t)
    return torch.stack([fn(t[k]) for k in range(t.shape[0])])
