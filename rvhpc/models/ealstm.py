"""EA-LSTM (Kratzert et al. 2019): the statics set the input gate once per sample, the dynamic
inputs drive the forget/output gates and the cell update.

i = sigma(x_s W_sh + b_s);  [f, o, g] = h_{t-1} W_hh + x_t W_ih + b;
c_t = sigma(f) . c_{t-1} + i . tanh(g);  h_t = sigma(o) . tanh(c_t)

The recurrence is a hand-written autograd function: the input projection of all T steps is one
matmul; each step is one addmm plus in-place pointwise math; the backward pass walks the steps
once with one matmul each and computes the W_hh gradient as one [H, B*T] x [B*T, 3H] matmul at
the end. Measured against autograd through a Python loop and TorchScript (see
benchmarks/baseline_models.py and the issue report), it is the fastest on CPU and runs unchanged
on CUDA.
"""

from __future__ import annotations

import torch
from torch import nn

from rvhpc.models.base import BaseModel, forget_bias, identity_per_gate, orthogonal


def ea_steps(z: torch.Tensor, i: torch.Tensor, w: torch.Tensor, keep: bool) -> tuple[torch.Tensor, tuple]:
    """The forward steps of :class:`EARecurrence`; ``keep=False`` (inference) holds two steps only.

    Returns h_T and, with ``keep``, (h_0..h_T, c_0..c_T, tanh(c_1..c_T), gate activations).
    """
    n_steps, batch, n_gate = z.shape
    hidden = n_gate // 3
    n_keep = n_steps if keep else 1
    hs = z.new_empty(n_keep + 1, batch, hidden)  # h_{t}, h_{t+1}
    cs = z.new_empty(n_keep + 1, batch, hidden)
    tcs = z.new_empty(n_keep, batch, hidden)  # tanh(c_{t+1})
    acts = z.new_empty(n_keep, batch, n_gate)  # sigma(f), sigma(o), tanh(g)
    hs[0].zero_()
    cs[0].zero_()
    for t in range(n_steps):
        k, prev, nxt = (t, t, t + 1) if keep else (0, t % 2, (t + 1) % 2)
        a = acts[k]
        torch.addmm(z[t], hs[prev], w, out=a)
        a.sigmoid_()
        f, o, g = a[:, :hidden], a[:, hidden : 2 * hidden], a[:, 2 * hidden :]
        g.mul_(2.0).sub_(1.0)
        c = cs[nxt]
        torch.mul(f, cs[prev], out=c)
        c.addcmul_(i, g)
        tc = tcs[k]
        torch.mul(c, 2.0, out=tc)
        tc.sigmoid_().mul_(2.0).sub_(1.0)
        torch.mul(o, tc, out=hs[nxt])
    h_last = hs[n_steps % 2 if not keep else n_steps].clone()
    return h_last, ((hs, cs, tcs, acts) if keep else ())


class EARecurrence(torch.autograd.Function):
    """h_T of the EA-LSTM recurrence from precomputed input projections.

    forward(z [T, B, 3H], i [B, H], w [H, 3H]) -> h_T [B, H], where z = x_t W_ih + b and w = W_hh
    in gate order f, o, g with the g columns DOUBLED (see :func:`gate_scale`). Doubling is exact in
    floating point and lets one sigmoid over all gates give tanh(g) = 2 sigma(2g) - 1; torch's CPU
    tanh is ~7x slower than its sigmoid, and this form stays within ~1e-7 of it.
    """

    @staticmethod
    def forward(ctx, z: torch.Tensor, i: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        h_last, saved = ea_steps(z, i, w, keep=True)
        ctx.save_for_backward(i, w, *saved)
        return h_last

    @staticmethod
    def backward(ctx, dh_last: torch.Tensor):
        i, w, hs, cs, tcs, acts = ctx.saved_tensors
        n_steps, batch, n_gate = acts.shape
        hidden = n_gate // 3
        dz = torch.empty_like(acts)
        w_t = w.t()
        dh = dh_last.contiguous().clone()
        dc = torch.zeros_like(dh)
        di = torch.zeros_like(dh)
        u = torch.empty_like(dh)
        tmp = torch.empty_like(dh)
        half = dh.new_tensor(0.5)
        for t in range(n_steps - 1, -1, -1):
            a, tc = acts[t], tcs[t]
            f, o, g = a[:, :hidden], a[:, hidden : 2 * hidden], a[:, 2 * hidden :]
            d = dz[t]
            df, do, dg = d[:, :hidden], d[:, hidden : 2 * hidden], d[:, 2 * hidden :]
            torch.mul(dh, o, out=u)
            # do = dh o tanh(c) (1 - o)
            torch.mul(u, tc, out=do)
            do.addcmul_(do, o, value=-1.0)
            # dc += dh o (1 - tanh(c)^2)
            dc.add_(u)
            u.mul_(tc)
            dc.addcmul_(u, tc, value=-1.0)
            # df = dc c_{t-1} f (1 - f)
            torch.mul(dc, cs[t], out=df)
            df.mul_(f)
            df.addcmul_(df, f, value=-1.0)
            # d(2g) = dc i (1 - tanh(g)^2) / 2;  di += dc tanh(g)
            torch.addcmul(half, g, g, value=-0.5, out=tmp)
            torch.mul(dc, i, out=dg)
            dg.mul_(tmp)
            di.addcmul_(dc, g)
            dc.mul_(f)
            torch.mm(d, w_t, out=dh)
        dw = None
        if ctx.needs_input_grad[2]:
            dw = torch.mm(hs[:n_steps].reshape(-1, hidden).t(), dz.reshape(-1, n_gate))
        return dz, di, dw


def gate_scale(hidden: int, n_gates: int = 3, like: torch.Tensor | None = None) -> torch.Tensor:
    """[n_gates*H] ones with the last gate (g) doubled, for :class:`EARecurrence`."""
    scale = torch.ones(n_gates * hidden, dtype=like.dtype if like is not None else None,
                       device=like.device if like is not None else None)
    scale[(n_gates - 1) * hidden :] = 2.0
    return scale


def ea_last_hidden(x_d: torch.Tensor, i: torch.Tensor, weight_ih: torch.Tensor, weight_hh: torch.Tensor,
                   bias: torch.Tensor) -> torch.Tensor:
    """h_T of the EA-LSTM (gate order f, o, g) for [B, T, n] inputs and input gate i [B, H]."""
    scale = gate_scale(weight_hh.shape[0], like=weight_hh)
    z = time_major_projection(x_d, weight_ih * scale, bias * scale)
    if torch.is_grad_enabled() and (z.requires_grad or i.requires_grad or weight_hh.requires_grad):
        return EARecurrence.apply(z, i, weight_hh * scale)
    return ea_steps(z, i, weight_hh * scale, keep=False)[0]  # O(B H) memory for evaluation


def time_major_projection(x_d: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """x_t W + b for all steps in one matmul, time-major: [B, T, n] -> [T, B, n_out]."""
    batch, n_steps, n_in = x_d.shape
    x = x_d.transpose(0, 1).reshape(n_steps * batch, n_in)
    return torch.addmm(bias, x, weight).view(n_steps, batch, -1)


class EALSTM(BaseModel):
    """Entity-aware LSTM; parameters in the reference layout (gate order f, o, g).

    Parameters
    ----------
    n_dynamic, n_static, hidden, dropout
        See :class:`rvhpc.models.base.BaseModel`.
    initial_forget_bias : float
        Added to the first ``hidden`` gate biases (the forget gate).
    """

    arch = "ea"
    reference_keys = ("lstm.weight_ih", "lstm.weight_hh", "lstm.weight_sh", "lstm.bias", "lstm.bias_s",
                      "fc.weight", "fc.bias")

    def __init__(self, n_dynamic: int, n_static: int, hidden: int = 256, dropout: float = 0.4,
                 initial_forget_bias: float = 5.0) -> None:
        super().__init__(n_dynamic, n_static, hidden, dropout)
        self._init_input_weights(n_static, hidden)
        self.weight_hh = nn.Parameter(identity_per_gate(hidden, 3))
        self.bias = nn.Parameter(forget_bias(hidden, 3, initial_forget_bias))
        self._make_head()

    def _init_input_weights(self, n_static: int, hidden: int) -> None:
        # reference draw order: weight_ih, then weight_sh
        self.weight_ih = nn.Parameter(orthogonal(self.n_dynamic, 3 * hidden))
        self.weight_sh = nn.Parameter(orthogonal(n_static, hidden))
        self.bias_s = nn.Parameter(torch.zeros(hidden))

    def input_gate(self, x_s: torch.Tensor) -> torch.Tensor:
        """i = sigma(x_s W_sh + b_s), [B, H]."""
        return torch.sigmoid(torch.addmm(self.bias_s, x_s, self.weight_sh))

    def forward(self, x_d: torch.Tensor, x_s: torch.Tensor | None) -> torch.Tensor:
        """[B, T, n_dynamic], [B, n_static] -> [B, 1]."""
        if x_s is None:
            raise ValueError(f"model {self.arch!r} needs x_s")
        h_last = ea_last_hidden(x_d, self.input_gate(x_s), self.weight_ih, self.weight_hh, self.bias)
        return self.head(h_last)

    @classmethod
    def dims_from_reference(cls, sd: dict[str, torch.Tensor], n_dynamic: int) -> dict[str, int]:
        return {"n_dynamic": sd["lstm.weight_ih"].shape[0], "n_static": sd["lstm.weight_sh"].shape[0],
                "hidden": sd["lstm.weight_hh"].shape[0]}

    _REF_NAMES = {"lstm.weight_ih": "weight_ih", "lstm.weight_hh": "weight_hh", "lstm.weight_sh": "weight_sh",
                  "lstm.bias": "bias", "lstm.bias_s": "bias_s"}

    @torch.no_grad()
    def load_reference(self, sd: dict[str, torch.Tensor]) -> None:
        params = dict(self.named_parameters())
        for ref, ours in self._REF_NAMES.items():
            params[ours].copy_(sd[ref])
        self._load_head(sd)

    def to_reference(self) -> dict[str, torch.Tensor]:
        params = dict(self.named_parameters())
        out = {ref: params[ours].detach().clone() for ref, ours in self._REF_NAMES.items()}
        return out | self._head_reference()
