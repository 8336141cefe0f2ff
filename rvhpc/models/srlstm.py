"""SR-LSTMEA: an EA-LSTM whose input gate comes from an embedding of the statics,
i = sigma(relu(x_s W_1 + b_1) W_sh + b_s), embedding width 512 (Li et al. 2022)."""

from __future__ import annotations

import torch
from torch import nn

from rvhpc.models.base import orthogonal
from rvhpc.models.ealstm import EALSTM
from rvhpc.models.members import blinear, pointwise

EMBEDDING = 512


class SRLSTM(EALSTM):
    """EA-LSTM with a one-layer ReLU embedding (width 512) in front of the input gate."""

    arch = "sr"
    reference_keys = EALSTM.reference_keys + ("lstm.weight_ann_1", "lstm.bias_ann_1")
    _REF_NAMES = EALSTM._REF_NAMES | {
        "lstm.weight_ann_1": "weight_ann_1",
        "lstm.bias_ann_1": "bias_ann_1",
    }

    def _init_input_weights(self, n_static: int, hidden: int) -> None:
        # W_1 is orthogonal and b_1 zero like the other reference weights and biases
        self.weight_ih = nn.Parameter(orthogonal(self.n_dynamic, 3 * hidden))
        self.weight_ann_1 = nn.Parameter(orthogonal(n_static, EMBEDDING))
        self.bias_ann_1 = nn.Parameter(torch.zeros(EMBEDDING))
        self.weight_sh = nn.Parameter(orthogonal(EMBEDDING, hidden))
        self.bias_s = nn.Parameter(torch.zeros(hidden))

    @staticmethod
    def packed_input_gate(p: dict[str, torch.Tensor], x_s: torch.Tensor) -> torch.Tensor:
        """i = sigma(relu(x_s W_1 + b_1) W_sh + b_s), [K, B, H]."""
        embedded = torch.relu(blinear(x_s, p["weight_ann_1"], p["bias_ann_1"]))
        return pointwise(torch.sigmoid, blinear(embedded, p["weight_sh"], p["bias_s"]))

    @classmethod
    def dims_from_reference(cls, sd: dict[str, torch.Tensor], n_dynamic: int) -> dict[str, int]:
        return {
            "n_dynamic": sd["lstm.weight_ih"].shape[0],
            "n_static": sd["lstm.weight_ann_1"].shape[0],
            "hidden": sd["lstm.weight_hh"].shape[0],
        }
