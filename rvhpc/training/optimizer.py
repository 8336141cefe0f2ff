"""Adam as rvhpc trains with it: torch's fused kernel where the numerics mode asks for it.

Why two kernels: torch's default Adam takes its square root through MKL's vector math, seeded by
an approximation whose bits differ between CPU makers; portable numerics take the fused kernel,
whose root is exact IEEE arithmetic everywhere (:data:`rvhpc.kernels.FUSED_ADAM`). Both keep the
same state (``step``, ``exp_avg``, ``exp_avg_sq``), so checkpoints resume under either.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from rvhpc.kernels import fused_adam


def adam(params: Iterable[torch.nn.Parameter], lr: float, numerics: str | None, device: Any):
    """torch's Adam at learning rate ``lr``, fused where ``numerics`` on ``device`` asks for it
    (:func:`rvhpc.kernels.fused_adam`)."""
    return torch.optim.Adam(params, lr=lr, fused=fused_adam(numerics, device) or None)


def load_state(optimizer: torch.optim.Optimizer, state: dict) -> None:
    """Load a checkpoint's optimizer state and keep this run's kernel: ``load_state_dict`` would
    restore the ``fused`` and ``foreach`` flags of the run that wrote the checkpoint."""
    kernels = [(g.get("fused"), g.get("foreach")) for g in optimizer.param_groups]
    optimizer.load_state_dict(state)
    for group, (fused, foreach) in zip(optimizer.param_groups, kernels, strict=True):
        group["fused"], group["foreach"] = fused, foreach
