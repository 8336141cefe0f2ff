"""Template for a new architecture: copy this file to ``rvhpc/models/<name>lstm.py``, fill in the
marked parts, and add one line to ``MODELS`` in ``registry.py``. The tests in tests/models/ then run
over the new name automatically; add its per-step equations to ``reference_forward`` there.

Rules every model keeps (see docs/architecture.md, section Models):
- ``__init__(n_dynamic, n_static, hidden=256, dropout=0.4, initial_forget_bias=5.0)``;
- ``packed_forward(p, x_d [K, B, T, n_dynamic], x_s [K, B, n_static] | None, mask) -> [K, B]``
  over K members in standardised units (``p``: the parameters by name, stacked [K, ...]),
  ending with ``packed_head(p, h_last, mask)``; ``BaseModel.forward`` is K = 1 of it;
- parameters are drawn in the order of the original code, then ``self._make_head()``, so that a
  seed gives the original's initial weights;
- ``reference_keys`` / ``dims_from_reference`` / ``load_reference`` / ``to_reference`` convert
  the original code's state dict (no ``module.`` prefix here; rvhpc/models/reference.py strips it
  and checks every shape against ``to_reference`` of a freshly built model).
- Use ``recurrence.last_hidden`` (K members, 3 gates with a fixed input gate or a 4-gate LSTM)
  when the recurrence fits, or ``fused.fused_last_hidden`` for a standard LSTM on the CPU;
  otherwise write a step loop like ``recurrence.GateRecurrence`` (one group per member on the CPU,
  all members as one group on a GPU; per-member operands from ``members``).
"""

from __future__ import annotations

import torch
from torch import nn

from rvhpc.models.base import (
    BaseModel,
    forget_bias,
    identity_per_gate,
    orthogonal,
    packed_head,
)


class TemplateLSTM(BaseModel):
    """One line on what this architecture does, and the paper it comes from."""

    arch = "template"  # the registry name
    uses_static = True  # False if the model takes no statics (n_static must then be 0)
    reference_keys = ("lstm.weight_ih", "lstm.weight_hh", "lstm.bias", "fc.weight", "fc.bias")

    def __init__(
        self,
        n_dynamic: int,
        n_static: int,
        hidden: int = 256,
        dropout: float = 0.4,
        initial_forget_bias: float = 5.0,
    ) -> None:
        super().__init__(n_dynamic, n_static, hidden, dropout)
        n_gates = 4
        # Draw in the original code's order (orthogonal input weights first).
        self.weight_ih = nn.Parameter(orthogonal(n_dynamic, n_gates * hidden))
        self.weight_hh = nn.Parameter(identity_per_gate(hidden, n_gates))
        self.bias = nn.Parameter(forget_bias(hidden, n_gates, initial_forget_bias))
        self._make_head()

    @classmethod
    def packed_forward(cls, p, x_d, x_s, mask):
        """K members: x_d [K, B, T, n_dynamic], x_s [K, B, n_static] -> [K, B]."""
        # ... compute h_last [K, B, H] from x_d (and x_s) with p["weight_ih"], ... ...
        h_last = x_d.new_zeros(x_d.shape[0], x_d.shape[1], p["weight_hh"].shape[1])  # replace
        return packed_head(p, h_last, mask)

    @classmethod
    def dims_from_reference(cls, sd: dict[str, torch.Tensor], n_dynamic: int) -> dict[str, int]:
        return {
            "n_dynamic": sd["lstm.weight_ih"].shape[0],
            "n_static": 1,
            "hidden": sd["lstm.weight_hh"].shape[0],
        }

    @torch.no_grad()
    def load_reference(self, sd: dict[str, torch.Tensor]) -> None:
        # convert gate orders / transpose here if the parameters are stored differently
        self.weight_ih.copy_(sd["lstm.weight_ih"])
        self.weight_hh.copy_(sd["lstm.weight_hh"])
        self.bias.copy_(sd["lstm.bias"])
        self._load_head(sd)

    def to_reference(self) -> dict[str, torch.Tensor]:
        out = {
            "lstm.weight_ih": self.weight_ih.detach().clone(),
            "lstm.weight_hh": self.weight_hh.detach().clone(),
            "lstm.bias": self.bias.detach().clone(),
        }
        return out | self._head_reference()
