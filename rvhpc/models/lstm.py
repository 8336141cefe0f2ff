"""Plain LSTM on the dynamic inputs only (static kind ``none``). Its parameters live in an
``nn.LSTM`` (the checkpoint layout). Its recurrence is torch's fused LSTM kernel on the CPU
(:mod:`rvhpc.models.fused`, member by member) and the hand-written :mod:`rvhpc.models.recurrence`
on a GPU or for CT with wide statics (K members at once; ``vmap`` cannot batch ``nn.LSTM``). Also
the base of CT-LSTM and FM-LSTM, and home of the gate-layout conversion between the reference code
([n, 4H] weights, its own gate order) and ``nn.LSTM`` ([4H, n], gates i, f, g, o).
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from rvhpc.models.base import (
    BaseModel,
    forget_bias,
    identity_per_gate,
    orthogonal,
    packed_head,
)
from rvhpc.models.fused import fused_last_hidden, use_fused
from rvhpc.models.recurrence import last_hidden

TORCH_GATES = "ifgo"


def ref_to_torch(w: torch.Tensor, ref_gates: str) -> torch.Tensor:
    """Reference [..., 4H] columns in ``ref_gates`` order -> nn.LSTM [4H, ...] rows in i, f, g,
    o."""
    blocks = dict(zip(ref_gates, w.chunk(4, dim=-1), strict=False))
    out = torch.cat([blocks[g] for g in TORCH_GATES], dim=-1)
    return out.t().contiguous() if out.dim() == 2 else out.contiguous()


def torch_to_ref(w: torch.Tensor, ref_gates: str) -> torch.Tensor:
    """Inverse of :func:`ref_to_torch`."""
    w = w.t() if w.dim() == 2 else w
    blocks = dict(zip(TORCH_GATES, w.chunk(4, dim=-1), strict=False))
    return torch.cat([blocks[g] for g in ref_gates], dim=-1).contiguous()


def _gate_blocks(w: torch.Tensor) -> torch.Tensor:
    """nn.LSTM's gate blocks i, f, g, o along dim 1 of [K, 4H, ...] -> f, o, g, i."""
    i, f, g, o = w.chunk(4, dim=1)
    return torch.cat([f, o, g, i], dim=1)


class LSTM(BaseModel):
    """Standard LSTM (reference gate order f, i, o, g), last h -> dropout -> Linear(H, 1).

    The whole reference bias goes into ``bias_ih_l0``; ``bias_hh_l0`` stays zero and frozen, so the
    model has exactly the reference's degrees of freedom.
    """

    arch = "lstm"
    uses_static = False
    ref_gates: ClassVar[str] = "fiog"
    reference_keys = ("lstm.weight_ih", "lstm.weight_hh", "lstm.bias", "fc.weight", "fc.bias")

    def __init__(
        self,
        n_dynamic: int,
        n_static: int = 0,
        hidden: int = 256,
        dropout: float = 0.4,
        initial_forget_bias: float = 5.0,
    ) -> None:
        super().__init__(n_dynamic, n_static, hidden, dropout)
        # built on meta: nn.LSTM's own random init would shift the RNG away from the reference's
        # draws
        self.lstm = nn.LSTM(self.lstm_inputs, hidden, batch_first=True, device="meta").to_empty(
            device="cpu"
        )
        ref = {"lstm.weight_ih": orthogonal(self.lstm_inputs, 4 * hidden)}
        self._init_extra()
        ref["lstm.weight_hh"] = identity_per_gate(hidden, 4)
        ref["lstm.bias"] = forget_bias(hidden, 4, initial_forget_bias)
        self._load_lstm(ref)
        self.lstm.bias_hh_l0.requires_grad_(False)
        self._make_head()

    @property
    def lstm_inputs(self) -> int:
        """Width of the input fed to nn.LSTM at every step."""
        return self.n_dynamic

    def _init_extra(self) -> None:
        """Extra parameters drawn right after weight_ih (FM's static modulation)."""

    @staticmethod
    def packed_bias(p, x_s, w_ih, bias, n_dynamic):
        """The gate bias: [K, 4H] here; CT adds its static input once per sample."""
        return bias

    @staticmethod
    def packed_emit(p, h_last, x_s):
        """The emitted hidden state from the last h (FM modulates it)."""
        return h_last

    @staticmethod
    def step_statics(x_s):
        """Static columns concatenated to every step's input (CT: all of them)."""
        return 0

    @classmethod
    def packed_forward(cls, p, x_d, x_s, mask):
        if cls.uses_static and x_s is None:
            raise ValueError(f"model {cls.arch!r} needs x_s")
        n_dynamic = x_d.shape[-1]
        step_statics = cls.step_statics(x_s)
        if use_fused(x_d, step_statics):
            x = x_d
            if step_statics:
                x = torch.cat([x_d, x_s.unsqueeze(2).expand(-1, -1, x_d.shape[2], -1)], dim=-1)
            names = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
            h_last = fused_last_hidden(x, *(p[f"lstm.{n}"] for n in names))
        else:
            w_ih = _gate_blocks(p["lstm.weight_ih_l0"])  # [K, 4H, n_in], gates f, o, g, i
            w_hh = _gate_blocks(p["lstm.weight_hh_l0"]).transpose(1, 2)
            bias = _gate_blocks(p["lstm.bias_ih_l0"] + p["lstm.bias_hh_l0"])
            bias = cls.packed_bias(p, x_s, w_ih, bias, n_dynamic)
            h_last = last_hidden(x_d, w_ih[:, :, :n_dynamic].transpose(1, 2), w_hh, bias)
        return packed_head(p, cls.packed_emit(p, h_last, x_s), mask)

    # -- reference layout -------------------------------------------------------------------
    @classmethod
    def dims_from_reference(cls, sd: dict[str, torch.Tensor], n_dynamic: int) -> dict[str, int]:
        return {
            "n_dynamic": sd["lstm.weight_ih"].shape[0],
            "n_static": 0,
            "hidden": sd["lstm.weight_hh"].shape[0],
        }

    @torch.no_grad()
    def _load_lstm(self, sd: dict[str, torch.Tensor]) -> None:
        self.lstm.weight_ih_l0.copy_(ref_to_torch(sd["lstm.weight_ih"], self.ref_gates))
        self.lstm.weight_hh_l0.copy_(ref_to_torch(sd["lstm.weight_hh"], self.ref_gates))
        self.lstm.bias_ih_l0.copy_(ref_to_torch(sd["lstm.bias"], self.ref_gates))
        self.lstm.bias_hh_l0.zero_()

    @torch.no_grad()
    def load_reference(self, sd: dict[str, torch.Tensor]) -> None:
        self._load_lstm(sd)
        self._load_head(sd)

    def to_reference(self) -> dict[str, torch.Tensor]:
        lstm = self.lstm
        bias = (lstm.bias_ih_l0 + lstm.bias_hh_l0).detach()
        out = {
            "lstm.weight_ih": torch_to_ref(lstm.weight_ih_l0.detach(), self.ref_gates),
            "lstm.weight_hh": torch_to_ref(lstm.weight_hh_l0.detach(), self.ref_gates),
            "lstm.bias": torch_to_ref(bias, self.ref_gates),
        }
        return out | self._head_reference()
