"""The gated recurrence of EA/SR (and of CT with wide statics), over K independent members.

One hand-written autograd function runs the recurrence with three gates f, o, g and an input gate
i fixed per sample (EA/SR), or the standard four gates f, o, g, i with a gate bias per sample (CT
with its statics projected once per sample). A single model is K = 1 of the same code.

Per batch: the input projection of all T steps is one matmul, written straight into the
activation buffer; each step is one matmul (h W_hh) plus in-place pointwise math; the backward
pass walks the steps once and forms the weight gradients as single matmuls over all B*T rows.
Why not autograd through a Python loop, TorchScript or torch.compile: measured on this project's
CPU, all three were 1.5-4x slower (autograd through per-step slices also copies the whole
[T, B, G] gradient at every step). Why not ``nn.LSTM``: EA's input gate is not an LSTM's, and
``torch.func.vmap`` has no batching rule for ``nn.LSTM`` (torch 2.13).

On the CPU the members run one after the other, each on its own 2-D tensors and buffers, so that
a member's numbers are bit for bit those of its run alone (see :mod:`rvhpc.models.members`), and a
single run pays no per-member bookkeeping inside the time loop: an earlier version that looped
over members inside every step cost EA 20 % of its training speed at hidden 32 (9.3 vs 7.8 s per
demo epoch). On a GPU all members run as one group with batched matmuls (``baddbmm``/``bmm``).
"""

from __future__ import annotations

import math
from functools import partial

import torch

from rvhpc.models.backward import backward_group
from rvhpc.models.members import (
    add_mm_,
    blas_threads,
    member,
    mm,
    openblas_shape,
    per_member,
    uses_onednn,
)
from rvhpc.models.rowblocks import blocks, run, threads_for
from rvhpc.models.workspace import WORKSPACE


def _mm(a: torch.Tensor, b: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """[..., M, N] @ [..., N, P] into ``out`` (one member: mm; a group of members: bmm)."""
    return mm(a, b, out=out) if a.dim() == 2 else torch.bmm(a, b, out=out)


def _project(x: torch.Tensor, w_ih: torch.Tensor, bias: torch.Tensor, out: torch.Tensor) -> None:
    """out [..., S, B, G] = x [..., S, B, n] @ w_ih + bias ([..., 1, G], or [..., B, G] per
    sample): one matmul over all S*B rows, then the bias."""
    *lead, n_rows, batch, n_in = x.shape
    flat = out.view(*lead, n_rows * batch, out.shape[-1])
    _mm(x.reshape(*lead, n_rows * batch, n_in), w_ih, out=flat)
    if bias.shape[-2] == 1:
        flat.add_(bias)
    else:
        out.add_(bias.unsqueeze(-3))


def _buffers(x: torch.Tensor, n_keep: int, hidden: int, n_gate: int, keep: bool):
    """Views hs, cs [..., n_keep + 1, B, H], tcs [..., n_keep, B, H], acts [..., n_keep, B, G] and
    the two flat buffers behind them (from the workspace when ``keep``)."""
    *lead, _, batch, _ = x.shape
    m = math.prod(lead)
    size = m * (n_keep + 1) * batch * hidden
    n_act = m * n_keep * batch * n_gate
    flat = WORKSPACE.take(3 * size, x) if keep else x.new_empty(3 * size)
    act_buf = WORKSPACE.take(n_act, x) if keep else x.new_empty(n_act)
    hs = flat[:size].view(*lead, n_keep + 1, batch, hidden)
    cs = flat[size : 2 * size].view(*lead, n_keep + 1, batch, hidden)
    tcs = flat[2 * size : 2 * size + m * n_keep * batch * hidden].view(*lead, n_keep, batch, hidden)
    return hs, cs, tcs, act_buf.view(*lead, n_keep, batch, n_gate), (flat, act_buf)


def gate_steps(x, w_ih, bias, w_hh, i_ext, keep: bool, threads: int = 1):
    """Forward steps of ONE group: a member ([T, B, n] tensors, the CPU) or all members
    ([K, T, B, n], a GPU). ``keep=False`` (inference) holds two steps only, O(B H) memory.

    x [..., T, B, n] time-major, w_ih [..., n, G], bias [..., 1, G] or per sample [..., B, G],
    w_hh [..., H, G], i_ext [..., B, H] (EA: G = 3H, gates f, o, g) or None (G = 4H, gates f, o,
    g, i), the g columns doubled (see :func:`gate_scale`). ``threads`` > 1 (training, from
    :func:`rowblocks.threads_for`): the rows in blocks over that many threads. Returns h_T
    [..., B, H] and, with ``keep``, (hs, cs, tcs, acts, workspace buffers).
    """
    n_steps, batch = x.shape[-3], x.shape[-2]
    hidden, n_gate = w_hh.shape[-2], w_hh.shape[-1]
    hs, cs, tcs, acts, bufs = _buffers(x, n_steps if keep else 1, hidden, n_gate, keep)
    parts = blocks(batch, threads, hidden) if keep else [slice(None)]
    if keep:
        _project_rows(x, w_ih, bias, acts, threads)
    one = x.dim() == 3
    # oneDNN's step form wants w_hh transposed: made once per batch, only where it is used
    w_t = w_hh.transpose(-1, -2).contiguous() if one and uses_onednn(w_hh) else None
    blas = openblas_shape(batch, hidden, n_gate, x)  # a block goes where the batch would
    per_sample = bias.shape[-2] != 1

    def rows(r: slice) -> None:
        b = bias[..., r, :] if per_sample else bias
        i = None if i_ext is None else i_ext[..., r, :]
        views = (hs[..., r, :], cs[..., r, :], tcs[..., r, :], acts[..., r, :])
        _steps(x[..., r, :], w_ih, b, w_hh, w_t, i, *views, keep, blas)

    run([partial(rows, r) for r in parts])
    h_last = hs.unbind(-3)[n_steps if keep else n_steps % 2].clone()
    return h_last, ((hs, cs, tcs, acts, bufs) if keep else ())


def _project_rows(x, w_ih, bias, acts, threads: int) -> None:
    """:func:`_project` of all T steps; on OpenBLAS in blocks of rows over ``threads``."""
    n_rows, n_in, n_gate = x.shape[-3] * x.shape[-2], x.shape[-1], w_ih.shape[-1]
    if threads < 2 or not openblas_shape(n_rows, n_in, n_gate, x):
        _project(x, w_ih, bias, acts)
        return
    x_flat, flat = x.reshape(n_rows, n_in), acts.view(n_rows, n_gate)
    per_sample = bias.shape[-2] != 1

    def rows(r: slice) -> None:  # on OpenBLAS, as the whole product would be
        out = mm(x_flat[r], w_ih, out=flat[r], blas=True)
        if not per_sample:
            out.add_(bias)

    run([partial(rows, r) for r in blocks(n_rows, threads)])
    if per_sample:
        acts.add_(bias.unsqueeze(-3))


def _steps(x, w_ih, bias, w_hh, w_t, i_ext, hs, cs, tcs, acts, keep: bool, blas) -> None:
    """The time loop of :func:`gate_steps` over one block of rows (views of its buffers)."""
    n_steps, hidden = x.shape[-3], w_hh.shape[-2]
    hs_t, cs_t, tcs_t, acts_t = hs.unbind(-3), cs.unbind(-3), tcs.unbind(-3), acts.unbind(-3)
    xs = None if keep else x.unsqueeze(-3).unbind(-4)  # [..., 1, B, n] per step
    hs_t[0].zero_()
    cs_t[0].zero_()
    one = x.dim() == 3
    for t in range(n_steps):
        k, prev, nxt = (t, t, t + 1) if keep else (0, t % 2, (t + 1) % 2)
        a = acts_t[k]
        if not keep:
            _project(xs[t], w_ih, bias, acts)
        if one:
            add_mm_(a, hs_t[prev], w_hh, w_t, blas)
        else:
            a.baddbmm_(hs_t[prev], w_hh)
        a.sigmoid_()
        f, o, g, *rest = a.split(hidden, -1)
        i = i_ext if i_ext is not None else rest[0]
        g.mul_(2.0).sub_(1.0)  # tanh(g) = 2 sigma(2 g) - 1
        c = cs_t[nxt]
        torch.mul(f, cs_t[prev], out=c)
        c.addcmul_(i, g)
        tc = tcs_t[k]
        torch.mul(c, 2.0, out=tc)
        tc.sigmoid_().mul_(2.0).sub_(1.0)
        torch.mul(o, tc, out=hs_t[nxt])


def _groups(x, w_ih, bias, w_hh, i_ext) -> list[tuple]:
    """The CPU's groups are the members (aligned 2-D views, see :mod:`members`); a GPU's group is
    all of them."""
    args = (x, w_ih, bias, w_hh, i_ext)
    if not per_member(x):
        return [args]
    return [tuple(None if a is None else member(a, k) for a in args) for k in range(x.shape[0])]


class GateRecurrence(torch.autograd.Function):
    """h_T [K, B, H] of K members' gated recurrences (arguments as :func:`gate_steps`, stacked).

    The g columns of w_ih, bias and w_hh come in DOUBLED (see :func:`gate_scale`): doubling is
    exact in floating point and lets one sigmoid over all gates give tanh(g) = 2 sigma(2g) - 1;
    torch's CPU tanh is ~7x slower than its sigmoid, and this form stays within ~1e-7 of it.

    The backward pass overwrites the saved activations with their gradients, so it runs once per
    forward (a second backward over a retained graph raises torch's in-place modification error).
    """

    @staticmethod
    def forward(ctx, x, w_ih, bias, w_hh, i_ext):
        ctx.threads = threads_for(x, w_hh)  # before blas_threads leaves torch one thread
        with blas_threads(x, ctx.threads > 1):
            return GateRecurrence._forward(ctx, x, w_ih, bias, w_hh, i_ext)

    @staticmethod
    def _forward(ctx, x, w_ih, bias, w_hh, i_ext):
        groups = _groups(x, w_ih, bias, w_hh, i_ext)
        outs, saved, ctx.workspace = [], [], []
        for group in groups:
            h_last, (hs, cs, tcs, acts, bufs) = gate_steps(*group, keep=True, threads=ctx.threads)
            outs.append(h_last)
            ctx.workspace.extend(bufs)
            gx, gw_ih, _, gw_hh, gi = group
            saved += [gx, gw_ih, gw_hh, x.new_empty(0) if gi is None else gi, hs, cs, tcs, acts]
        ctx.n_groups, ctx.per_sample = len(groups), bias.shape[-2] != 1
        ctx.has_i = i_ext is not None
        ctx.save_for_backward(*saved)
        return torch.stack(outs) if per_member(x) else outs[0]

    @staticmethod
    def backward(ctx, dh_last):
        with blas_threads(dh_last, ctx.threads > 1):
            return GateRecurrence._backward(ctx, dh_last)

    @staticmethod
    def _backward(ctx, dh_last):
        saved = ctx.saved_tensors
        need = ctx.needs_input_grad
        grads = []
        for k in range(ctx.n_groups):
            gx, gw_ih, gw_hh, gi, hs, cs, tcs, acts = saved[8 * k : 8 * k + 8]
            dh = dh_last[k] if per_member(dh_last) else dh_last
            gi = gi if ctx.has_i else None
            args = (gx, gw_ih, gw_hh, gi, hs, cs, tcs, acts, dh, need, ctx.per_sample)
            grads.append(backward_group(*args, threads=ctx.threads))
        WORKSPACE.give(*ctx.workspace)
        ctx.workspace = []
        if not per_member(dh_last):
            return (None, *grads[0])
        return (None, *(None if g[0] is None else torch.stack(g) for g in zip(*grads, strict=True)))


def gate_scale(hidden: int, n_gates: int, like: torch.Tensor) -> torch.Tensor:
    """[n_gates * H] ones with the g gate (third block) doubled, for :class:`GateRecurrence`."""
    scale = torch.ones(n_gates * hidden, dtype=like.dtype, device=like.device)
    scale[2 * hidden : 3 * hidden] = 2.0
    return scale


def last_hidden(
    x_d: torch.Tensor,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias: torch.Tensor,
    i_ext: torch.Tensor | None = None,
) -> torch.Tensor:
    """h_T [K, B, H] for inputs x_d [K, B, T, n] (batch-first per member).

    weight_ih [K, n, G], weight_hh [K, H, G], bias [K, G] or per sample [K, B, G], gate blocks
    f, o, g (and i when ``i_ext`` [K, B, H] is None), NOT scaled: scaling happens here.
    """
    hidden = weight_hh.shape[1]
    scale = gate_scale(hidden, weight_hh.shape[2] // hidden, like=weight_hh)
    x = x_d.transpose(1, 2).contiguous()
    b = (bias * scale).unsqueeze(1) if bias.dim() == 2 else bias * scale
    args = (x, weight_ih * scale, b, weight_hh * scale, i_ext)
    if torch.is_grad_enabled() and any(a is not None and a.requires_grad for a in args):
        return GateRecurrence.apply(*args)
    with blas_threads(x):
        outs = [gate_steps(*g, keep=False)[0] for g in _groups(*args)]
    return torch.stack(outs) if per_member(x) else outs[0]
