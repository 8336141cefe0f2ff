"""FM-LSTM (feature modulation): a standard LSTM whose emitted hidden state is scaled by
p = sigma(x_s W_sh + b_s), computed once per sample. The state passed on in time is the plain
h_t, so with a many-to-one head the recurrence is exactly a standard LSTM (torch's fused kernel on
the CPU, see :mod:`rvhpc.models.lstm`); only the last emitted state p . h_T is modulated.

The reference gate order here is i, f, o, g, so the reference's "+initial_forget_bias on the
first H biases" lands on the input gate. We reproduce that.
"""

from __future__ import annotations

import torch
from torch import nn

from rvhpc.models.base import STATIC_GATE_KEYS, orthogonal, static_gate_dims
from rvhpc.models.lstm import LSTM
from rvhpc.models.members import blinear, pointwise


class FMLSTM(LSTM):
    """Standard LSTM with the emitted hidden state modulated by the statics."""

    arch = "fm"
    uses_static = True
    ref_gates = "ifog"
    reference_keys = STATIC_GATE_KEYS

    def _init_extra(self) -> None:
        self.weight_sh = nn.Parameter(orthogonal(self.n_static, self.hidden))
        self.bias_s = nn.Parameter(torch.zeros(self.hidden))

    @staticmethod
    def packed_emit(p, h_last, x_s):
        return pointwise(torch.sigmoid, blinear(x_s, p["weight_sh"], p["bias_s"])) * h_last

    @classmethod
    def dims_from_reference(cls, sd: dict[str, torch.Tensor], n_dynamic: int) -> dict[str, int]:
        return static_gate_dims(sd)

    @torch.no_grad()
    def load_reference(self, sd: dict[str, torch.Tensor]) -> None:
        super().load_reference(sd)
        self.weight_sh.copy_(sd["lstm.weight_sh"])
        self.bias_s.copy_(sd["lstm.bias_s"])

    def to_reference(self) -> dict[str, torch.Tensor]:
        out = super().to_reference()
        out["lstm.weight_sh"] = self.weight_sh.detach().clone()
        out["lstm.bias_s"] = self.bias_s.detach().clone()
        return out
