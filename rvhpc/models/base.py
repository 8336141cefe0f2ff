"""What every architecture shares: the head (last h -> dropout -> Linear(H, 1)), the argument
checks, and the interface to the original code's parameter layout (reference.md section 4)."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from rvhpc.errors import ConfigError

#: the original code's state-dict keys of the models with a static gate (EA-LSTM, FM-LSTM)
STATIC_GATE_KEYS = (
    "lstm.weight_ih",
    "lstm.weight_hh",
    "lstm.weight_sh",
    "lstm.bias",
    "lstm.bias_s",
    "fc.weight",
    "fc.bias",
)


def static_gate_dims(sd: dict[str, torch.Tensor]) -> dict[str, int]:
    """n_dynamic, n_static and hidden of a static-gate model's original state dict."""
    return {
        "n_dynamic": sd["lstm.weight_ih"].shape[0],
        "n_static": sd["lstm.weight_sh"].shape[0],
        "hidden": sd["lstm.weight_hh"].shape[0],
    }


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


def dropout_masks(
    p: float, shape: tuple[int, int, int], like: torch.Tensor, generators: list
) -> torch.Tensor:
    """Inverted-dropout masks [K, B, H] (0 or 1 / (1 - p)); member k draws from generators[k]
    (None: torch's global generator), so its mask does not depend on the other members."""
    mask = torch.empty(shape, dtype=like.dtype, device=like.device)
    for k, gen in enumerate(generators):
        mask[k].bernoulli_(1.0 - p, generator=gen)
    return mask.div_(1.0 - p)


def packed_head(p: dict[str, torch.Tensor], h: torch.Tensor, mask: torch.Tensor | None):
    """[K, B, H] last hidden state -> [K, B]: dropout, then (h * w).sum(-1) + b.

    An elementwise product and a row sum, never an N=1 GEMM: MKL's N=1 ``bmm`` is not
    batch-invariant (K=3 and K=1 differed by 7e-15 in float64).
    """
    if mask is not None:
        h = h * mask
    w, b = p["fc.weight"], p["fc.bias"]
    if h.device.type != "cpu":
        return (h * w).sum(-1) + b
    # member by member: the backward of a weight broadcast over the batch is a reduction, and
    # over a [K, B, H] tensor its order would depend on K
    return torch.stack([(h[k] * w[k]).sum(-1) + b[k] for k in range(h.shape[0])])


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

    @staticmethod
    def packed_forward(
        p: dict[str, torch.Tensor],
        x_d: torch.Tensor,
        x_s: torch.Tensor | None,
        mask: torch.Tensor | None,
    ) -> torch.Tensor:
        """K members at once: parameters ``p`` (this class's names, stacked [K, ...]), inputs
        x_d [K, B, T, n], x_s [K, B, d] or None, dropout mask [K, B, H] or None -> [K, B]."""
        raise NotImplementedError

    def forward(self, x_d: torch.Tensor, x_s: torch.Tensor | None = None) -> torch.Tensor:
        """[B, T, n_dynamic], [B, n_static] (None for ``lstm``) -> [B, 1]: K = 1 of
        :meth:`packed_forward`, dropout drawn from torch's global generator in train mode."""
        if self.uses_static and x_s is None:
            raise ValueError(f"model {self.arch!r} needs x_s")
        params = {name: p.unsqueeze(0) for name, p in self.named_parameters()}
        mask = None
        if self.training and self.dropout.p > 0:
            mask = dropout_masks(self.dropout.p, (1, x_d.shape[0], self.hidden), x_d, [None])
        x_s1 = None if x_s is None or not self.uses_static else x_s.unsqueeze(0)
        return self.packed_forward(params, x_d.unsqueeze(0), x_s1, mask)[0].unsqueeze(-1)

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
