"""The EA-LSTM recurrence (used by ``ea`` and ``sr``) as one hand-written autograd function.

Per batch: the input projection x_t W_ih + b of all T steps is one matmul, written straight into
the activation buffer; each step is one matmul (h W_hh) plus in-place pointwise math; the
backward pass walks the steps once with one matmul each and forms the weight gradients as single
matmuls over all B*T rows at the end. Why not autograd through a Python loop, TorchScript or
torch.compile: measured on this project's CPU, all three were 1.5-4x slower (autograd through
per-step slices also copies the whole [T, B, 3H] gradient at every step); this function also
runs unchanged on CUDA.
"""

from __future__ import annotations

import threading

import torch


def _find_onednn():
    try:
        return torch.ops.mkldnn._linear_pointwise if torch.backends.mkldnn.is_available() else None
    except (AttributeError, RuntimeError):
        return None


# On CPU the matmuls go through oneDNN's linear: it uses AVX-512 where MKL's sgemm (torch.mm) does
# not on AMD CPUs; measured 240 vs 110 GFLOP/s per core for [256, 256] x [256, 768].
_ONEDNN = _find_onednn()


def _mm_t(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a @ b.T."""
    if _ONEDNN is not None and a.device.type == "cpu" and a.dtype == torch.float32:
        return _ONEDNN(a, b, None, "none", [], "")
    return torch.mm(a, b.t())


class _Workspace:
    """Reuses the large per-batch CPU buffers between batches.

    A fresh buffer of hundreds of MB is page-faulted in on every batch (glibc serves it by mmap),
    which cost a third of a training step here. A buffer goes back only after its backward pass, so
    a graph that is still alive never shares one; none ever leaves the recurrence.
    """

    def __init__(self, keep: int = 4) -> None:
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


def ea_steps(
    x: torch.Tensor,
    w_ih: torch.Tensor,
    b: torch.Tensor,
    i: torch.Tensor,
    w: torch.Tensor,
    keep: bool,
) -> tuple[torch.Tensor, tuple]:
    """Forward steps; ``keep=False`` (inference) holds two steps only, O(B H) memory.

    Returns h_T and, with ``keep``, the buffers (hs/cs/tcs workspace, h_0..h_T, c_0..c_T,
    tanh(c_1..c_T), gate activations sigma(f), sigma(o), tanh(g) per step).
    """
    n_steps, batch, n_in = x.shape
    n_gate = w.shape[1]
    hidden = n_gate // 3
    n_keep = n_steps if keep else 1
    size = (n_keep + 1) * batch * hidden
    flat = _WORKSPACE.take(3 * size, x) if keep else x.new_empty(3 * size)
    act_buf = _WORKSPACE.take(n_keep * batch * n_gate, x) if keep else x.new_empty(batch * n_gate)
    hs = flat[:size].view(n_keep + 1, batch, hidden)
    cs = flat[size : 2 * size].view(n_keep + 1, batch, hidden)
    tcs = flat[2 * size : 3 * size - batch * hidden].view(n_keep, batch, hidden)
    acts = act_buf.view(n_keep, batch, n_gate)
    if keep:
        torch.addmm(b, x.view(-1, n_in), w_ih, out=acts.view(-1, n_gate))
    hs[0].zero_()
    cs[0].zero_()
    w_t = w.t().contiguous()
    for t in range(n_steps):
        k, prev, nxt = (t, t, t + 1) if keep else (0, t % 2, (t + 1) % 2)
        a = acts[k]
        if not keep:
            torch.addmm(b, x[t], w_ih, out=a)
        a.add_(_mm_t(hs[prev], w_t)).sigmoid_()
        f, o, g = a[:, :hidden], a[:, hidden : 2 * hidden], a[:, 2 * hidden :]
        g.mul_(2.0).sub_(1.0)  # tanh(g) = 2 sigma(2 g) - 1
        c = cs[nxt]
        torch.mul(f, cs[prev], out=c)
        c.addcmul_(i, g)
        tc = tcs[k]
        torch.mul(c, 2.0, out=tc)
        tc.sigmoid_().mul_(2.0).sub_(1.0)
        torch.mul(o, tc, out=hs[nxt])
    h_last = hs[n_steps if keep else n_steps % 2].clone()
    return h_last, ((flat, act_buf, hs, cs, tcs, acts) if keep else ())


class EARecurrence(torch.autograd.Function):
    """h_T of the EA-LSTM recurrence.

    forward(x [T, B, n] time-major, w_ih [n, 3H], b [3H], i [B, H], w [H, 3H]) -> h_T [B, H], gate
    order f, o, g with the g columns of w_ih, b and w DOUBLED (see :func:`gate_scale`). Doubling is
    exact in floating point and lets one sigmoid over all gates give tanh(g) = 2 sigma(2g) - 1;
    torch's CPU tanh is ~7x slower than its sigmoid, and this form stays within ~1e-7 of it.

    The backward pass overwrites the saved activations with their gradients, so it runs once per
    forward (a second backward over a retained graph raises torch's in-place modification error).
    """

    @staticmethod
    def forward(ctx, x, w_ih, b, i, w):
        h_last, (flat, act_buf, hs, cs, tcs, acts) = ea_steps(x, w_ih, b, i, w, keep=True)
        ctx.workspace = (flat, act_buf)
        ctx.save_for_backward(x, w_ih, i, w, hs, cs, tcs, acts)
        return h_last

    @staticmethod
    def backward(ctx, dh_last):
        x, w_ih, i, w, hs, cs, tcs, acts = ctx.saved_tensors
        n_steps, batch, n_gate = acts.shape
        hidden = n_gate // 3
        dh = dh_last.contiguous().clone()
        dc = torch.zeros_like(dh)
        di = torch.zeros_like(dh)
        u = torch.empty_like(dh)
        tmp = torch.empty_like(dh)
        half = dh.new_tensor(0.5)
        # Walk back in time; each step's activations are overwritten by that step's gradient dz.
        for t in range(n_steps - 1, -1, -1):
            a, tc = acts[t], tcs[t]
            f, o, g = a[:, :hidden], a[:, hidden : 2 * hidden], a[:, 2 * hidden :]
            torch.mul(dh, o, out=u)
            torch.mul(u, tc, out=tmp)
            o.neg_().add_(1.0).mul_(tmp)  # dz_o = dh tanh(c) o (1 - o)
            dc.add_(u)
            tmp.mul_(tc)
            dc.sub_(tmp)  # dc += dh o (1 - tanh(c)^2)
            torch.addcmul(half, g, g, value=-0.5, out=tmp)
            di.addcmul_(dc, g)  # di += dc tanh(g)
            torch.mul(dc, i, out=g)
            g.mul_(tmp)  # dz_g = dc i (1 - tanh(g)^2) / 2   (z_g = 2 g)
            torch.mul(dc, f, out=u)  # dc_{t-1} = dc f
            f.neg_().add_(1.0).mul_(u).mul_(cs[t])  # dz_f = dc f (1 - f) c_{t-1}
            dc, u = u, dc
            dh = _mm_t(a, w)
        dz = acts.view(-1, n_gate)
        need = ctx.needs_input_grad
        dx = torch.mm(dz, w_ih.t()).view_as(x) if need[0] else None
        dw_ih = torch.mm(x.view(-1, x.shape[2]).t(), dz) if need[1] else None
        db = dz.sum(0) if need[2] else None
        dw = _mm_t(hs[:n_steps].reshape(-1, hidden).t(), dz.t()) if need[4] else None
        _WORKSPACE.give(*ctx.workspace)
        ctx.workspace = ()
        return dx, dw_ih, db, di, dw


def gate_scale(hidden: int, like: torch.Tensor) -> torch.Tensor:
    """[3H] ones with the g gate doubled, for :class:`EARecurrence`."""
    scale = torch.ones(3 * hidden, dtype=like.dtype, device=like.device)
    scale[2 * hidden :] = 2.0
    return scale


def ea_last_hidden(
    x_d: torch.Tensor,
    i: torch.Tensor,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias: torch.Tensor,
) -> torch.Tensor:
    """h_T of the EA-LSTM (gate order f, o, g) for inputs [B, T, n] and input gate i [B, H]."""
    scale = gate_scale(weight_hh.shape[0], like=weight_hh)
    x = x_d.transpose(0, 1).contiguous()
    args = (x, weight_ih * scale, bias * scale, i, weight_hh * scale)
    if torch.is_grad_enabled() and any(a.requires_grad for a in args):
        return EARecurrence.apply(*args)
    return ea_steps(*args, keep=False)[0]
