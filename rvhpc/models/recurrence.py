"""The gated recurrence of every architecture, over K independent members at once.

One hand-written autograd function runs K members' recurrences side by side on tensors with a
leading member axis: EA/SR (three gates f, o, g with an input gate i fixed per sample) and the
standard LSTM of CT/FM/LSTM (four gates f, o, g, i). A single model is K = 1 of the same code.

Per batch: the input projection of all T steps is one matmul per member, written straight into
the activation buffer; each step is one matmul per member (h W_hh) plus in-place pointwise math
over all members; the backward pass walks the steps once and forms the weight gradients as single
matmuls over all B*T rows. Why not autograd through a Python loop, TorchScript or torch.compile:
measured on this project's CPU, all three were 1.5-4x slower (autograd through per-step slices
also copies the whole [T, B, G] gradient at every step). Why not ``nn.LSTM``: ``torch.func.vmap``
has no batching rule for it (torch 2.13), so it cannot run K members.

Members never mix. On the CPU the matmuls and reductions run member by member (oneDNN's linear:
it uses AVX-512 where MKL's sgemm does not on AMD CPUs, 240 vs 110 GFLOP/s per core for
[256, 256] x [256, 768]), and the buffers are laid out [K, T, B, ...] so every pointwise kernel
walks each member's rows exactly as it does for K = 1: with one thread, a member's numbers are
bit for bit those of its run alone. On a GPU the matmuls are batched (``bmm``/``baddbmm``).
"""

from __future__ import annotations

import threading

import torch


def _find_onednn():
    try:
        return torch.ops.mkldnn._linear_pointwise if torch.backends.mkldnn.is_available() else None
    except (AttributeError, RuntimeError):
        return None


_ONEDNN = _find_onednn()


def _mm_t(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a @ b.T for 2-D a, b."""
    if _ONEDNN is not None and a.device.type == "cpu" and a.dtype == torch.float32:
        return _ONEDNN(a, b, None, "none", [], "")
    return torch.mm(a, b.t())


def _per_member(t: torch.Tensor) -> bool:
    """Run matmuls and reductions member by member (CPU: bitwise K-invariant, oneDNN)."""
    return t.device.type == "cpu"


#: MKL's and oneDNN's results depend on the alignment of their operands; the allocator aligns to
#: 64 bytes, so a member's slice is handed over at that alignment, as in a run of its own
_ALIGN = 64


def _al(t: torch.Tensor) -> torch.Tensor:
    """``t`` contiguous and 64-byte aligned (a copy only where it is not)."""
    if not t.is_contiguous():
        return t.contiguous()
    return t if t.data_ptr() % _ALIGN == 0 else t.clone()


class _AlignGrad(torch.autograd.Function):
    """Identity whose backward hands on an aligned gradient (a member's slice of a stacked
    gradient sits at an arbitrary offset)."""

    @staticmethod
    def forward(ctx, t):
        return t.view_as(t)

    @staticmethod
    def backward(ctx, grad):
        return _al(grad)


def bmm(a: torch.Tensor, b: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """[K, M, N] @ [K, N, P] -> [K, M, P] (into ``out`` when given); operands of the CPU path
    come as contiguous slices (or transposes of them)."""
    if not _per_member(a):
        return torch.bmm(a, b, out=out)
    if out is None:
        out = a.new_empty(a.shape[0], a.shape[1], b.shape[2])
    for k in range(a.shape[0]):
        ak, bk = _member(a, k), _member(b, k)
        if out[k].data_ptr() % _ALIGN == 0:
            torch.mm(ak, bk, out=out[k])
        else:
            out[k].copy_(torch.mm(ak, bk))
    return out


def _member(t: torch.Tensor, k: int) -> torch.Tensor:
    """Member k of a stacked operand, aligned; a transposed view stays a transposed view."""
    m = t[k]
    if m.dim() == 2 and not m.is_contiguous() and m.t().is_contiguous():
        return _al(m.t()).t()
    return _al(m)


def blinear(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """x [K, B, n] @ w [K, n, m] + b [K, m] -> [K, B, m] (autograd-friendly)."""
    if not _per_member(x):
        return torch.baddbmm(b.unsqueeze(1), x, w)
    return torch.stack(
        [
            _AlignGrad.apply(torch.addmm(_al(b[k]), _al(x[k]), _member(w, k)))
            for k in range(x.shape[0])
        ]
    )


def pointwise(fn, t: torch.Tensor) -> torch.Tensor:
    """``fn`` (a transcendental such as sigmoid) over [K, ...], member by member on the CPU.

    Over a contiguous [K, ...] tensor torch's kernel runs as one loop whose scalar tail (std::exp
    instead of the vectorised exp) would fall on other elements than in a member's own run.
    """
    if not _per_member(t):
        return fn(t)
    return torch.stack([fn(t[k]) for k in range(t.shape[0])])


def _sum_rows(t: torch.Tensor) -> torch.Tensor:
    """[K, N, ...] -> [K, ...], summed over N member by member."""
    if not _per_member(t):
        return t.sum(1)
    return torch.stack([t[k].sum(0) for k in range(t.shape[0])])


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


def _step_matmul(a: torch.Tensor, h: torch.Tensor, w: torch.Tensor, w_t: torch.Tensor) -> None:
    """a += h @ w in place (a [K, B, G], h [K, B, H], w [K, H, G], w_t = w transposed)."""
    if not _per_member(a):
        a.baddbmm_(h, w)
        return
    for k in range(a.shape[0]):
        a[k].add_(_mm_t(_al(h[k]), _al(w_t[k])))


def gate_steps(
    x: torch.Tensor,
    w_ih: torch.Tensor,
    bias: torch.Tensor,
    w_hh: torch.Tensor,
    i_ext: torch.Tensor | None,
    keep: bool,
) -> tuple[torch.Tensor, tuple]:
    """Forward steps; ``keep=False`` (inference) holds two steps only, O(K B H) memory.

    x [K, T, B, n] time-major per member, w_ih [K, n, G], bias [K, 1, G] or per sample [K, B, G],
    w_hh [K, H, G], i_ext [K, B, H] (EA: G = 3H, gates f, o, g) or None (LSTM: G = 4H, gates
    f, o, g, i), the g columns doubled (see :func:`gate_scale`). Returns h_T [K, B, H] and, with
    ``keep``, the buffers (workspace, h_0..h_T, c_0..c_T, tanh(c_1..c_T), gate activations).
    """
    n_mem, n_steps, batch, n_in = x.shape
    hidden, n_gate = w_hh.shape[1], w_hh.shape[2]
    n_keep = n_steps if keep else 1
    size = n_mem * (n_keep + 1) * batch * hidden
    n_act = n_mem * n_keep * batch * n_gate
    flat = _WORKSPACE.take(3 * size, x) if keep else x.new_empty(3 * size)
    act_buf = _WORKSPACE.take(n_act, x) if keep else x.new_empty(n_act)
    hs = flat[:size].view(n_mem, n_keep + 1, batch, hidden)
    cs = flat[size : 2 * size].view(n_mem, n_keep + 1, batch, hidden)
    tcs = flat[2 * size : 2 * size + n_mem * n_keep * batch * hidden].view(
        n_mem, n_keep, batch, hidden
    )
    acts = act_buf.view(n_mem, n_keep, batch, n_gate)
    per_sample = bias.shape[1] != 1
    if keep:
        flat_acts = acts.view(n_mem, n_steps * batch, n_gate)
        bmm(x.view(n_mem, n_steps * batch, n_in), w_ih, out=flat_acts)
        if per_sample:
            acts.add_(bias.unsqueeze(1))
        else:
            flat_acts.add_(bias)
    hs[:, 0].zero_()
    cs[:, 0].zero_()
    w_t = w_hh.transpose(1, 2).contiguous()
    h3 = 3 * hidden
    for t in range(n_steps):
        k, prev, nxt = (t, t, t + 1) if keep else (0, t % 2, (t + 1) % 2)
        a = acts[:, k]
        if not keep:
            bmm(x[:, t], w_ih, out=a)
            a.add_(bias)
        _step_matmul(a, hs[:, prev], w_hh, w_t)
        a.sigmoid_()
        f, o, g = a[..., :hidden], a[..., hidden : 2 * hidden], a[..., 2 * hidden : h3]
        i = i_ext if i_ext is not None else a[..., h3:]
        g.mul_(2.0).sub_(1.0)  # tanh(g) = 2 sigma(2 g) - 1
        c = cs[:, nxt]
        torch.mul(f, cs[:, prev], out=c)
        c.addcmul_(i, g)
        tc = tcs[:, k]
        torch.mul(c, 2.0, out=tc)
        tc.sigmoid_().mul_(2.0).sub_(1.0)
        torch.mul(o, tc, out=hs[:, nxt])
    h_last = hs[:, n_steps if keep else n_steps % 2].clone()
    return h_last, ((flat, act_buf, hs, cs, tcs, acts) if keep else ())


class GateRecurrence(torch.autograd.Function):
    """h_T [K, B, H] of K members' gated recurrences (arguments as :func:`gate_steps`).

    The g columns of w_ih, bias and w_hh come in DOUBLED (see :func:`gate_scale`): doubling is
    exact in floating point and lets one sigmoid over all gates give tanh(g) = 2 sigma(2g) - 1;
    torch's CPU tanh is ~7x slower than its sigmoid, and this form stays within ~1e-7 of it.

    The backward pass overwrites the saved activations with their gradients, so it runs once per
    forward (a second backward over a retained graph raises torch's in-place modification error).
    """

    @staticmethod
    def forward(ctx, x, w_ih, bias, w_hh, i_ext):
        h_last, (flat, act_buf, hs, cs, tcs, acts) = gate_steps(
            x, w_ih, bias, w_hh, i_ext, keep=True
        )
        ctx.workspace = (flat, act_buf)
        ctx.per_sample = bias.shape[1] != 1
        ctx.has_i = i_ext is not None
        saved_i = i_ext if i_ext is not None else x.new_empty(0)
        ctx.save_for_backward(x, w_ih, w_hh, saved_i, hs, cs, tcs, acts)
        return h_last

    @staticmethod
    def backward(ctx, dh_last):
        x, w_ih, w_hh, i_ext, hs, cs, tcs, acts = ctx.saved_tensors
        n_mem, n_steps, batch, n_gate = acts.shape
        hidden = w_hh.shape[1]
        h3 = 3 * hidden
        dh = dh_last.contiguous().clone()
        dc = torch.zeros_like(dh)
        di = torch.zeros_like(dh) if ctx.has_i else None
        u, tmp, u2 = torch.empty_like(dh), torch.empty_like(dh), torch.empty_like(dh)
        half = dh.new_tensor(0.5)
        # Walk back in time; each step's activations are overwritten by that step's gradient dz.
        for t in range(n_steps - 1, -1, -1):
            a, tc = acts[:, t], tcs[:, t]
            f, o, g = a[..., :hidden], a[..., hidden : 2 * hidden], a[..., 2 * hidden : h3]
            torch.mul(dh, o, out=u)
            torch.mul(u, tc, out=tmp)
            o.neg_().add_(1.0).mul_(tmp)  # dz_o = dh tanh(c) o (1 - o)
            dc.add_(u)
            tmp.mul_(tc)
            dc.sub_(tmp)  # dc += dh o (1 - tanh(c)^2)
            torch.addcmul(half, g, g, value=-0.5, out=tmp)
            if ctx.has_i:
                di.addcmul_(dc, g)  # di += dc tanh(g)
                torch.mul(dc, i_ext, out=g)
                g.mul_(tmp)  # dz_g = dc i (1 - tanh(g)^2) / 2   (z_g = 2 g)
            else:
                ig = a[..., h3:]
                torch.mul(dc, g, out=u2)  # dc tanh(g)
                torch.mul(dc, ig, out=g)
                g.mul_(tmp)  # dz_g = dc i (1 - tanh(g)^2) / 2
                torch.addcmul(ig, ig, ig, value=-1.0, out=tmp)  # i (1 - i)
                torch.mul(u2, tmp, out=ig)  # dz_i = dc tanh(g) i (1 - i)
            torch.mul(dc, f, out=u)  # dc_{t-1} = dc f
            f.neg_().add_(1.0).mul_(u).mul_(cs[:, t])  # dz_f = dc f (1 - f) c_{t-1}
            dc, u = u, dc
            if _per_member(a):
                for k in range(n_mem):
                    dh[k].copy_(_mm_t(_al(a[k]), _al(w_hh[k])))
            else:
                torch.bmm(a, w_hh.transpose(1, 2), out=dh)
        dz = acts.view(n_mem, n_steps * batch, n_gate)
        need = ctx.needs_input_grad
        n_in = x.shape[3]
        dw_ih = bmm(x.view(n_mem, -1, n_in).transpose(1, 2), dz) if need[1] else None
        dbias = None
        if need[2]:
            if ctx.per_sample:  # sum over the T steps of each member's [T, B, G]
                dbias = _sum_rows(acts)
            else:
                dbias = _sum_rows(dz).unsqueeze(1)
        dw_hh = None
        if need[3]:
            hs_flat = hs[:, :n_steps].reshape(n_mem, n_steps * batch, hidden)
            if _per_member(dz):
                dw_hh = torch.stack(
                    [_mm_t(_al(hs_flat[k]).t(), _al(dz[k]).t()) for k in range(n_mem)]
                )
            else:
                dw_hh = torch.bmm(hs_flat.transpose(1, 2), dz)
        _WORKSPACE.give(*ctx.workspace)
        ctx.workspace = ()
        return None, dw_ih, dbias, dw_hh, (di if ctx.has_i and need[4] else None)


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
    return gate_steps(*args, keep=False)[0]
