"""K members of one architecture as one module: parameters stacked along a leading K axis.

Members share arch, sizes and dropout; each has its own weights (drawn like its own run), its own
static vectors and its own dropout masks. ``member_state(k)`` is exactly the state dict of the
ordinary model of member k, so a pack writes ordinary run directories.
"""

from __future__ import annotations

import torch
from torch import nn

from rvhpc.errors import ConfigError
from rvhpc.models.base import BaseModel


def _attr(name: str) -> str:
    return name.replace(".", "__")


class PackedModel(nn.Module):
    """K models of the same class and config trained as one.

    Parameters
    ----------
    models : list[BaseModel]
        The members, freshly built (each under its own seed) or loaded from checkpoints.

    Raises
    ------
    ConfigError
        Members of different architectures or sizes.
    """

    def __init__(self, models: list[BaseModel]) -> None:
        super().__init__()
        if not models:
            raise ConfigError("a pack needs at least one member")
        first = models[0]
        if any(type(m) is not type(first) or m.config != first.config for m in models):
            raise ConfigError("the members of a pack must share arch, sizes and dropout")
        self.model_class = type(first)
        self.config = first.config
        self.hidden, self.dropout_p = first.hidden, first.dropout.p
        self.names = [name for name, _ in first.named_parameters()]
        for name in self.names:
            members = [dict(m.named_parameters())[name] for m in models]
            stacked = torch.stack([p.detach() for p in members]).clone()
            param = nn.Parameter(stacked, requires_grad=members[0].requires_grad)
            self.register_parameter(_attr(name), param)

    @property
    def k(self) -> int:
        return getattr(self, _attr(self.names[0])).shape[0]

    def stacked(self) -> dict[str, torch.Tensor]:
        """The stacked parameters by the ordinary model's names."""
        return {name: getattr(self, _attr(name)) for name in self.names}

    def forward(
        self, x_d: torch.Tensor, x_s: torch.Tensor | None, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """x_d [K, B, T, n], x_s [K, B, d] or None, dropout masks [K, B, H] or None -> [K, B]."""
        return self.model_class.packed_forward(self.stacked(), x_d, x_s, mask)

    def member_state(self, k: int) -> dict[str, torch.Tensor]:
        """The ordinary model's state dict of member k (copies, on the CPU)."""
        return {name: p[k].detach().cpu().clone() for name, p in self.stacked().items()}

    def member(self, k: int) -> BaseModel:
        """Member k as an ordinary model (a copy), on the pack's device."""
        from rvhpc.models.registry import build_model

        model = build_model(**self.config)
        model.load_state_dict(self.member_state(k))
        return model.to(getattr(self, _attr(self.names[0])).device)

    @torch.no_grad()
    def load_member(self, k: int, state: dict[str, torch.Tensor]) -> None:
        """Set member k from an ordinary model's state dict."""
        for name, p in self.stacked().items():
            p[k].copy_(state[name])


def member_optimizer_state(optimizer: torch.optim.Optimizer, pack: PackedModel, k: int) -> dict:
    """Member k's slice of an Adam over the stacked parameters, in the state-dict format of an
    Adam over the ordinary model's parameters (same parameter order and indices)."""
    sd = optimizer.state_dict()
    state = {}
    for idx, st in sd["state"].items():
        state[idx] = {
            key: (val.clone() if key == "step" or val.dim() == 0 else val[k].cpu().clone())
            for key, val in st.items()
        }
    return {"state": state, "param_groups": [dict(g) for g in sd["param_groups"]]}


def stack_optimizer_states(states: list[dict]) -> dict:
    """The inverse of :func:`member_optimizer_state` over all members (steps must agree)."""
    first = states[0]
    state = {}
    for idx, st in first["state"].items():
        state[idx] = {}
        for key, val in st.items():
            if key == "step" or val.dim() == 0:
                if any(not torch.equal(s["state"][idx][key], val) for s in states):
                    raise ConfigError("pack members resumed at different optimizer steps")
                state[idx][key] = val.clone()
            else:
                state[idx][key] = torch.stack([s["state"][idx][key] for s in states])
    return {"state": state, "param_groups": first["param_groups"]}


def clip_members(params: list[torch.Tensor], max_norm: float, n_members: int) -> None:
    """Each member's gradient clipped to norm ``max_norm``, with ``clip_grad_norm_``'s formula
    (norm of the per-tensor 2-norms; coefficient max_norm / (norm + 1e-6), at most 1)."""
    grads = [p.grad for p in params if p.grad is not None]
    for k in range(n_members):
        norms = [torch.linalg.vector_norm(g[k], 2.0) for g in grads]
        total = torch.linalg.vector_norm(torch.stack(norms), 2.0)
        coef = torch.clamp(max_norm / (total + 1e-6), max=1.0)
        for g in grads:
            g[k].mul_(coef)
