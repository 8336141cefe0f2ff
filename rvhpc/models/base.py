"""What every architecture shares: the head (last h -> dropout -> Linear(H, 1)), the argument
checks, and the interface to the original code's parameter layout (reference.md section 4)."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from rvhpc.errors import ConfigError


def orthogonal(rows: int, cols: int) -> torch.Tensor:
    """An orthogonal [rows, cols] matrix drawn like the reference code (``nn.init.orthogonal_``)."""
    w = torch.empty(rows, cols)
    nn.init.orthogonal_(w)
    return w


def identity_per_gate(hidden: int, n_gates: int) -> torch.Tensor:
    """The reference W_hh: the identity repeated once per gate along the columns, [H, n_gates*H]."""
    return torch.eye(hidden).repeat(1, n_gates)


def forget_bias(hidden: int, n_gates: int, value: float) -> torch.Tensor:
    """The reference bias: zeros with the first ``hidden`` entries set to ``value``.

    The first block is whatever gate the reference orders first (forget for EA/SR/LSTM, input for
    FM); the reference code does exactly this, so we do too.
    """
    b = torch.zeros(n_gates * hidden)
    b[:hidden] = value
    return b


class BaseModel(nn.Module):
    """Base class of the model zoo.

    Subclasses set ``arch`` and ``reference_keys``, build their recurrent parameters in the
    reference code's order (so a seed draws the same initial weights as the original code), then
    call :meth:`_make_head`, and implement ``forward``, ``dims_from_reference``, ``load_reference``
    and ``to_reference``.

    Parameters
    ----------
    n_dynamic, n_static : int
        Number of dynamic inputs per time step and of static inputs per sample.
    hidden : int
        Hidden size H.
    dropout : float
        Dropout on the last hidden state, before the linear head.
    """

    arch: ClassVar[str] = ""
    uses_static: ClassVar[bool] = True
    reference_keys: ClassVar[tuple[str, ...]] = ()

    def __init__(self, n_dynamic: int, n_static: int, hidden: int, dropout: float) -> None:
        super().__init__()
        if n_dynamic < 1:
            raise ConfigError(f"model {self.arch!r}: n_dynamic must be >= 1, got {n_dynamic}")
        if hidden < 1:
            raise ConfigError(f"model {self.arch!r}: hidden must be >= 1, got {hidden}")
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"model {self.arch!r}: dropout must be in [0, 1), got {dropout}")
        if self.uses_static and n_static < 1:
            raise ConfigError(
                f"model {self.arch!r} needs static inputs (n_static >= 1, got {n_static}); "
                "use arch 'lstm' for static kind 'none'"
            )
        if not self.uses_static and n_static != 0:
            raise ConfigError(
                f"model {self.arch!r} takes no static inputs (n_static must be 0, got {n_static})"
            )
        self.n_dynamic, self.n_static, self.hidden = n_dynamic, n_static, hidden
        self.dropout = nn.Dropout(dropout)

    def _make_head(self) -> None:
        # Created after the recurrent weights, as in the reference code, so the RNG order matches.
        self.fc = nn.Linear(self.hidden, 1)

    def head(self, h_last: torch.Tensor) -> torch.Tensor:
        """[B, H] last hidden state -> [B, 1] prediction."""
        return self.fc(self.dropout(h_last))

    @property
    def config(self) -> dict:
        """The arguments that rebuild this model with :func:`rvhpc.models.build_model`."""
        return {
            "arch": self.arch,
            "n_dynamic": self.n_dynamic,
            "n_static": self.n_static,
            "hidden": self.hidden,
            "dropout": self.dropout.p,
        }

    # -- reference layout -------------------------------------------------------------------
    @classmethod
    def dims_from_reference(cls, sd: dict[str, torch.Tensor], n_dynamic: int) -> dict[str, int]:
        """n_dynamic, n_static, hidden from a reference state dict (keys without ``module.``)."""
        raise NotImplementedError

    def load_reference(self, sd: dict[str, torch.Tensor]) -> None:
        """Copy a shape-checked reference state dict into this model."""
        raise NotImplementedError

    def to_reference(self) -> dict[str, torch.Tensor]:
        """This model's parameters in the reference layout (keys without ``module.``)."""
        raise NotImplementedError

    def _load_head(self, sd: dict[str, torch.Tensor]) -> None:
        self.fc.weight.copy_(sd["fc.weight"])
        self.fc.bias.copy_(sd["fc.bias"])

    def _head_reference(self) -> dict[str, torch.Tensor]:
        return {
            "fc.weight": self.fc.weight.detach().clone(),
            "fc.bias": self.fc.bias.detach().clone(),
        }
