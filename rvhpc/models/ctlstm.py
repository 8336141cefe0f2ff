"""CT-LSTM: a standard LSTM on [x_t, x_s], the statics repeated at every time step (reference
gate order f, i, o, g). The static columns of the input weight are applied once per sample (a
per-sample gate bias), not at every step: the same model at a fraction of the cost for wide
statics (one-hot)."""

from __future__ import annotations

import torch

from rvhpc.models.lstm import LSTM
from rvhpc.models.members import blinear


class CTLSTM(LSTM):
    """LSTM on the dynamic inputs concatenated with the statics at every step.

    The reference state dict has one [n_dynamic + n_static, 4H] input weight, dynamic columns
    first; it does not say where the split is, so :func:`rvhpc.models.from_reference` takes
    ``n_dynamic`` (5 by default, the CAMELS forcings).
    """

    arch = "ct"
    uses_static = True

    @property
    def lstm_inputs(self) -> int:
        return self.n_dynamic + self.n_static

    @staticmethod
    def step_statics(x_s):
        return x_s.shape[-1]

    @staticmethod
    def packed_bias(p, x_s, w_ih, bias, n_dynamic):
        """u = x_s W_s + b once per sample, [K, B, 4H]: exactly the concatenated-input LSTM, with
        the static columns projected once instead of at every step."""
        return blinear(x_s, w_ih[:, :, n_dynamic:].transpose(1, 2), bias)

    @classmethod
    def dims_from_reference(cls, sd: dict[str, torch.Tensor], n_dynamic: int) -> dict[str, int]:
        return {
            "n_dynamic": n_dynamic,
            "n_static": sd["lstm.weight_ih"].shape[0] - n_dynamic,
            "hidden": sd["lstm.weight_hh"].shape[0],
        }
