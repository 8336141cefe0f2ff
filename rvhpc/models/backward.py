"""The backward pass of :class:`rvhpc.models.recurrence.GateRecurrence`, for one group (a member
on the CPU, all members on a GPU): the gate factors of all T steps at once, the walk back in time
(in blocks of rows over the cell's threads, see :mod:`rvhpc.models.rowblocks`), then the weight
gradients as single products over all T * B rows.
"""

from __future__ import annotations

from functools import partial

import torch

from rvhpc.models.members import mm, mm_t, openblas_shape
from rvhpc.models.rowblocks import blocks, run
from rvhpc.models.workspace import WORKSPACE


def _gate_factors(acts, tcs, cs, i_ext, hidden: int):
    """The factors that turn dh and dc into each step's gate gradients, for all T steps at once
    (a few large kernels instead of ten small ones per step; measured -30 % per backward at the
    demo's hidden 32). Overwrites tanh(c) with o (1 - tanh(c)^2), c_{t-1} with f (1 - f) c_{t-1}
    and, for the 4-gate LSTM, i with i (1 - i) tanh(g). Returns (p_o, p_c, p_g, p_f) per step:
    dz_o = dh p_o, dc += dh p_c, dz_g = dc p_g, dz_f = dc p_f (and dz_i = dc i)."""
    n_steps = acts.shape[-3]
    f, o, g, *rest = acts.split(hidden, -1)
    buf = WORKSPACE.take(2 * tcs.numel(), tcs)
    p_o, p_g = buf[: tcs.numel()].view_as(tcs), buf[tcs.numel() :].view_as(tcs)
    torch.mul(tcs, o, out=p_o)
    p_o.addcmul_(p_o, o, value=-1.0)  # o (1 - o) tanh(c)
    tcs.mul_(tcs)
    torch.addcmul(o, o, tcs, value=-1.0, out=tcs)  # p_c = o (1 - tanh(c)^2)
    i = i_ext.unsqueeze(-3) if i_ext is not None else rest[0]
    torch.addcmul(g.new_tensor(0.5), g, g, value=-0.5, out=p_g)
    p_g.mul_(i)  # i (1 - tanh(g)^2) / 2   (z_g = 2 g)
    if i_ext is None:
        i.addcmul_(i, i, value=-1.0).mul_(g)  # i (1 - i) tanh(g)
    c_prev = cs.narrow(-3, 0, n_steps)
    c_prev.mul_(f)
    c_prev.addcmul_(c_prev, f, value=-1.0)  # f (1 - f) c_{t-1}
    return p_o.unbind(-3), tcs.unbind(-3), p_g.unbind(-3), c_prev.unbind(-3), buf


def backward_group(x, w_ih, w_hh, i_ext, hs, cs, tcs, acts, dh_last, need, per_sample, threads=1):
    """Gradients (dw_ih, dbias, dw_hh, di) of one group; overwrites ``acts`` with dz (and
    ``tcs``, ``cs`` with the factors of :func:`_gate_factors`); ``threads`` as in
    :func:`rvhpc.models.recurrence.gate_steps`."""
    n_steps, batch, n_gate = acts.shape[-3:]
    hidden = w_hh.shape[-2]
    di = dh_last.new_zeros(dh_last.shape) if i_ext is not None else None
    parts = blocks(batch, threads, hidden)
    blas = openblas_shape(batch, n_gate, hidden, acts)  # a block goes where the batch would

    def rows(r: slice) -> None:
        i, d = (None, None) if i_ext is None else (i_ext[..., r, :], di[..., r, :])
        views = (hs[..., r, :], cs[..., r, :], tcs[..., r, :], acts[..., r, :])
        _backward_steps(w_hh, i, *views, dh_last[..., r, :], d, blas)

    run([partial(rows, r) for r in parts])
    dw_ih, dbias, dw_hh = _weight_grads(x, hs, acts, need, per_sample, threads)
    return dw_ih, dbias, dw_hh, (di if need[4] else None)


def _backward_steps(w_hh, i_ext, hs, cs, tcs, acts, dh_last, di, blas) -> None:
    """The backward time loop over one block of rows: dz into ``acts``, di += (EA)."""
    n_steps, hidden = acts.shape[-3], w_hh.shape[-2]
    one = acts.dim() == 3
    dh = dh_last.contiguous().clone()
    dc = torch.zeros_like(dh)
    u = torch.empty_like(dh)
    p_o, p_c, p_g, p_f, buf = _gate_factors(acts, tcs, cs, i_ext, hidden)
    acts_t = acts.unbind(-3)
    w_hh_t = None if one else w_hh.transpose(-1, -2)
    # Walk back in time; each step's activations are overwritten by that step's gradient dz.
    for t in range(n_steps - 1, -1, -1):
        a = acts_t[t]
        f, o, g, *rest = a.split(hidden, -1)
        torch.mul(dh, p_o[t], out=o)  # dz_o
        dc.addcmul_(dh, p_c[t])  # dc += dh o (1 - tanh(c)^2)
        if i_ext is not None:
            di.addcmul_(dc, g)  # di += dc tanh(g)
        else:
            rest[0].mul_(dc)  # dz_i = dc tanh(g) i (1 - i)
        torch.mul(dc, p_g[t], out=g)  # dz_g
        torch.mul(dc, f, out=u)  # dc_{t-1} = dc f
        torch.mul(dc, p_f[t], out=f)  # dz_f
        dc, u = u, dc
        dh = mm_t(a, w_hh, blas) if one else torch.bmm(a, w_hh_t, out=dh)
    WORKSPACE.give(buf)


def _weight_grads(x, hs, acts, need, per_sample, threads: int):
    """(dw_ih, dbias, dw_hh) from dz (in ``acts``), each a sum over all T * B rows; with
    ``threads`` > 1 side by side, dw_hh in blocks of its rows where it goes to OpenBLAS."""
    n_steps, batch, n_gate = acts.shape[-3:]
    hidden, lead, one = hs.shape[-1], acts.shape[:-3], acts.dim() == 3
    dz = acts.view(*lead, n_steps * batch, n_gate)
    x_flat = x.reshape(*lead, n_steps * batch, x.shape[-1])
    hs_flat = hs.narrow(-3, 0, n_steps).reshape(*lead, n_steps * batch, hidden)
    tasks = []
    if need[1]:
        tasks.append(lambda: mm(x_flat.t(), dz) if one else torch.bmm(x_flat.mT, dz))
    if need[2]:  # per sample: summed over the T steps of [T, B, G]
        tasks.append(lambda: acts.sum(-3) if per_sample else dz.sum(-2, keepdim=True))
    parts = [slice(None)]
    if need[3] and one and threads > 1 and openblas_shape(hidden, n_steps * batch, n_gate, dz):
        parts = blocks(hidden, threads)
    blas = openblas_shape(hidden, n_steps * batch, n_gate, dz)  # a block goes where all would
    if need[3]:
        tasks += [
            partial(mm_t, hs_flat[:, r].t(), dz.t(), blas) if one else partial(_bmm, hs_flat, dz)
            for r in parts
        ]
    done = run(tasks, threads)
    dw_ih = done.pop(0) if need[1] else None
    dbias = done.pop(0) if need[2] else None
    dw_hh = (done[0] if len(done) == 1 else torch.cat(done)) if need[3] else None
    return dw_ih, dbias, dw_hh


def _bmm(hs_flat: torch.Tensor, dz: torch.Tensor) -> torch.Tensor:
    return torch.bmm(hs_flat.mT, dz)
