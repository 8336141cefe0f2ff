"""CT-LSTM: a standard LSTM on [x_t, x_s], the statics repeated at every time step (reference
gate order f, i, o, g). Runs on torch's ``nn.LSTM`` (cuDNN on a GPU); the model concatenates."""

from __future__ import annotations

import torch

from rvhpc.models.lstm import LSTM


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

    def lstm_input(self, x_d: torch.Tensor, x_s: torch.Tensor | None) -> torch.Tensor:
        if x_s is None:
            raise ValueError("model 'ct' needs x_s")
        return torch.cat([x_d, x_s.unsqueeze(1).expand(-1, x_d.shape[1], -1)], dim=2)

    @classmethod
    def dims_from_reference(cls, sd: dict[str, torch.Tensor], n_dynamic: int) -> dict[str, int]:
        return {
            "n_dynamic": n_dynamic,
            "n_static": sd["lstm.weight_ih"].shape[0] - n_dynamic,
            "hidden": sd["lstm.weight_hh"].shape[0],
        }
