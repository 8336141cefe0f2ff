"""EA-LSTM (Kratzert et al. 2019): the statics set the input gate once per sample, the dynamic
inputs drive the forget/output gates and the cell update.

i = sigma(x_s W_sh + b_s);  [f, o, g] = h_{t-1} W_hh + x_t W_ih + b;
c_t = sigma(f) . c_{t-1} + i . tanh(g);  h_t = sigma(o) . tanh(c_t)

The recurrence is rvhpc/models/recurrence.py (hand-written forward and backward).
"""

from __future__ import annotations

import torch
from torch import nn

from rvhpc.models.base import (
    STATIC_GATE_KEYS,
    BaseModel,
    forget_bias,
    identity_per_gate,
    orthogonal,
    packed_head,
    static_gate_dims,
)
from rvhpc.models.members import blinear, pointwise
from rvhpc.models.recurrence import last_hidden


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
    reference_keys = STATIC_GATE_KEYS

    def __init__(
        self,
        n_dynamic: int,
        n_static: int,
        hidden: int = 256,
        dropout: float = 0.4,
        initial_forget_bias: float = 5.0,
    ) -> None:
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

    @staticmethod
    def packed_input_gate(p: dict[str, torch.Tensor], x_s: torch.Tensor) -> torch.Tensor:
        """i = sigma(x_s W_sh + b_s), [K, B, H]."""
        return pointwise(torch.sigmoid, blinear(x_s, p["weight_sh"], p["bias_s"]))

    @classmethod
    def packed_forward(cls, p, x_d, x_s, mask):
        if x_s is None:
            raise ValueError(f"model {cls.arch!r} needs x_s")
        i = cls.packed_input_gate(p, x_s)
        h_last = last_hidden(x_d, p["weight_ih"], p["weight_hh"], p["bias"], i_ext=i)
        return packed_head(p, h_last, mask)

    @classmethod
    def dims_from_reference(cls, sd: dict[str, torch.Tensor], n_dynamic: int) -> dict[str, int]:
        return static_gate_dims(sd)

    _REF_NAMES = {
        "lstm.weight_ih": "weight_ih",
        "lstm.weight_hh": "weight_hh",
        "lstm.weight_sh": "weight_sh",
        "lstm.bias": "bias",
        "lstm.bias_s": "bias_s",
    }

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
