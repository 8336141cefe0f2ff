"""The standard LSTM of CT, FM and LSTM on the CPU: torch's own fused LSTM (``aten::lstm``, the
kernel behind ``nn.LSTM``), member by member.

Measured on this project's CPU at the demo's shape (hidden 32, batch 256, 90 steps, one thread),
against the hand-written recurrence of :mod:`rvhpc.models.recurrence`: 60-66 vs 78 ms per training
forward and backward, and 13-15 vs 41-46 ms per inference forward; a demo epoch of ``lstm`` took
5.5 s with it and 9.6 s without. Members run one after the other on their own aligned operands
(:mod:`rvhpc.models.members`), so a member's numbers are those of its run alone. On a GPU the
members stay batched in the hand-written recurrence instead (one kernel per step for all of them).

CT concatenates its statics to the input at every step here, so the kernel's input projection
grows with their width d; the hand-written recurrence projects them once per sample instead.
Training samples/s, fused / hand-written, one thread (``benchmarks/bench_ct_fused.py``):

=========================  ======  ======  ======  ======
hidden, batch               d=27    d=64   d=128   d=256
=========================  ======  ======  ======  ======
32, 256 (the demo)          1.64    1.09    0.81
64, 64                              2.15    1.61    1.21
256, 256 (the paper)        1.04    1.01    0.85
=========================  ======  ======  ======  ======

Hence :data:`MAX_FUSED_STATICS` = 64: physics (27) and narrow random vectors take the fused
kernel, one-hot (d = number of basins) and wide vectors the hand-written recurrence.
"""

from __future__ import annotations

import torch

from rvhpc.kernels import onednn_rnn
from rvhpc.models.members import aligned, member

#: widest CT static vector that still runs faster through the fused kernel (measured crossover)
MAX_FUSED_STATICS = 64


def use_fused(x_d: torch.Tensor, step_statics: int = 0) -> bool:
    """Whether the fused kernel serves this batch: on the CPU where it runs oneDNN's RNN
    (:func:`rvhpc.kernels.onednn_rnn`: not in portable numerics, where oneDNN is off), with at
    most :data:`MAX_FUSED_STATICS` static columns concatenated to every step."""
    return x_d.device.type == "cpu" and step_statics <= MAX_FUSED_STATICS and onednn_rnn()


def fused_last_hidden(
    x: torch.Tensor,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_ih: torch.Tensor,
    bias_hh: torch.Tensor,
) -> torch.Tensor:
    """h_T [K, B, H] of K members' LSTMs for x [K, B, T, n] (batch-first), parameters in
    ``nn.LSTM``'s layout stacked [K, ...]: weight_ih [K, 4H, n], weight_hh [K, 4H, H], biases
    [K, 4H] (gates i, f, g, o)."""
    n_members, batch = x.shape[:2]
    hidden = weight_hh.shape[-1]
    h0 = x.new_zeros(1, batch, hidden)
    outs = []
    for k in range(n_members):
        params = [member(w, k) for w in (weight_ih, weight_hh, bias_ih, bias_hh)]
        out, _, _ = torch.lstm(aligned(x[k]), (h0, h0), params, True, 1, 0.0, False, False, True)
        outs.append(out[:, -1])
    return torch.stack(outs)
