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
import threading

import torch

from rvhpc.models.members import add_mm_, blas_threads, member, mm, mm_t, per_member, uses_onednn


class _Workspace:
    """Reuses the large per-batch CPU buffers between batches.

    A fresh buffer of hundreds of MB is page-faulted in on every batch (glibc serves it by mmap),
    which cost a third of a training step here. A buffer goes back only after its backward pass, so
    a graph that is still alive never shares one; none ever leaves the recurrence.
    """

    def __init__(self, keep: int = 8) -> None:
        self._free: list[torch.Tensor] = []
        self._keep = keep
        self._lock = threading.Lock()

    def take(self, numel: int, like: torch.Tensor) -> torch.Tensor:
        if like.device.type == "cpu":
            with self._lock:
                for k, buf in enumerate(self._free):
                    if buf.numel() == numel and buf.dtype == like.dtype:
                        return self._free.pop(k)
        return like.new_empty(numel)

    def give(self, *bufs: torch.Tensor) -> None:
        with self._lock:
            self._free.extend(b for b in bufs if b.device.type == "cpu")
            del self._free[: -self._keep]


_WORKSPACE = _Workspace()


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
    flat = _WORKSPACE.take(3 * size, x) if keep else x.new_empty(3 * size)
    act_buf = _WORKSPACE.take(n_act, x) if keep else x.new_empty(n_act)
    hs = flat[:size].view(*lead, n_keep + 1, batch, hidden)
    cs = flat[size : 2 * size].view(*lead, n_keep + 1, batch, hidden)
    tcs = flat[2 * size : 2 * size + m * n_keep * batch * hidden].view(*lead, n_keep, batch, hidden)
    return hs, cs, tcs, act_buf.view(*lead, n_keep, batch, n_gate), (flat, act_buf)


def gate_steps(x, w_ih, bias, w_hh, i_ext, keep: bool):
    """Forward steps of ONE group: a member ([T, B, n] tensors, the CPU) or all members
    ([K, T, B, n], a GPU). ``keep=False`` (inference) holds two steps only, O(B H) memory.

    x [..., T, B, n] time-major, w_ih [..., n, G], bias [..., 1, G] or per sample [..., B, G],
    w_hh [..., H, G], i_ext [..., B, H] (EA: G = 3H, gates f, o, g) or None (G = 4H, gates f, o,
    g, i), the g columns doubled (see :func:`gate_scale`). Returns h_T [..., B, H] and, with
    ``keep``, (hs, cs, tcs, acts, workspace buffers).
    """
    n_steps = x.shape[-3]
    hidden, n_gate = w_hh.shape[-2], w_hh.shape[-1]
    hs, cs, tcs, acts, bufs = _buffers(x, n_steps if keep else 1, hidden, n_gate, keep)
    if keep:
        _project(x, w_ih, bias, acts)
    hs_t, cs_t, tcs_t, acts_t = hs.unbind(-3), cs.unbind(-3), tcs.unbind(-3), acts.unbind(-3)
    xs = None if keep else x.unsqueeze(-3).unbind(-4)  # [..., 1, B, n] per step
    hs_t[0].zero_()
    cs_t[0].zero_()
    one = x.dim() == 3
    # oneDNN's step form wants w_hh transposed: made once per batch, only where it is used
    w_t = w_hh.transpose(-1, -2).contiguous() if one and uses_onednn(w_hh) else None
    for t in range(n_steps):
        k, prev, nxt = (t, t, t + 1) if keep else (0, t % 2, (t + 1) % 2)
        a = acts_t[k]
        if not keep:
            _project(xs[t], w_ih, bias, acts)
        if one:
            add_mm_(a, hs_t[prev], w_hh, w_t)
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
    h_last = hs_t[n_steps if keep else n_steps % 2].clone()
    return h_last, ((hs, cs, tcs, acts, bufs) if keep else ())


def _gate_factors(acts, tcs, cs, i_ext, hidden: int):
    """The factors that turn dh and dc into each step's gate gradients, for all T steps at once
    (a few large kernels instead of ten small ones per step; measured -30 % per backward at the
    demo's hidden 32). Overwrites tanh(c) with o (1 - tanh(c)^2), c_{t-1} with f (1 - f) c_{t-1}
    and, for the 4-gate LSTM, i with i (1 - i) tanh(g). Returns (p_o, p_c, p_g, p_f) per step:
    dz_o = dh p_o, dc += dh p_c, dz_g = dc p_g, dz_f = dc p_f (and dz_i = dc i)."""
    n_steps = acts.shape[-3]
    f, o, g, *rest = acts.split(hidden, -1)
    buf = _WORKSPACE.take(2 * tcs.numel(), tcs)
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


def _backward_group(x, w_ih, w_hh, i_ext, hs, cs, tcs, acts, dh_last, need, per_sample):
    """Gradients (dw_ih, dbias, dw_hh, di) of one group; overwrites ``acts`` with dz (and
    ``tcs``, ``cs`` with the factors of :func:`_gate_factors`)."""
    n_steps, batch, n_gate = acts.shape[-3:]
    hidden = w_hh.shape[-2]
    one = acts.dim() == 3
    dh = dh_last.contiguous().clone()
    dc = torch.zeros_like(dh)
    di = torch.zeros_like(dh) if i_ext is not None else None
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
        dh = mm_t(a, w_hh) if one else torch.bmm(a, w_hh_t, out=dh)
    _WORKSPACE.give(buf)
    lead = acts.shape[:-3]
    dz = acts.view(*lead, n_steps * batch, n_gate)
    x_flat = x.reshape(*lead, n_steps * batch, x.shape[-1])
    hs_flat = hs.narrow(-3, 0, n_steps).reshape(*lead, n_steps * batch, hidden)
    dw_ih = dbias = dw_hh = None
    if need[1]:
        dw_ih = mm(x_flat.t(), dz) if one else torch.bmm(x_flat.transpose(-1, -2), dz)
    if need[2]:  # per sample: summed over the T steps of [T, B, G]
        dbias = acts.sum(-3) if per_sample else dz.sum(-2, keepdim=True)
    if need[3]:
        dw_hh = mm_t(hs_flat.t(), dz.t()) if one else torch.bmm(hs_flat.transpose(-1, -2), dz)
    return dw_ih, dbias, dw_hh, (di if need[4] else None)


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
        with blas_threads(x):
            return GateRecurrence._forward(ctx, x, w_ih, bias, w_hh, i_ext)

    @staticmethod
    def _forward(ctx, x, w_ih, bias, w_hh, i_ext):
        groups = _groups(x, w_ih, bias, w_hh, i_ext)
        outs, saved, ctx.workspace = [], [], []
        for group in groups:
            h_last, (hs, cs, tcs, acts, bufs) = gate_steps(*group, keep=True)
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
        with blas_threads(dh_last):
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
            grads.append(_backward_group(*args))
        _WORKSPACE.give(*ctx.workspace)
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
