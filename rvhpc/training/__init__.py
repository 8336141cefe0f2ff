"""Training, checkpoints, distributed set-up, evaluation and metrics of one grid cell.

``train_cell``, ``TrainOutcome`` and ``TrainConfig`` are importable from here; they load lazily so
that ``rvhpc.training.metrics`` stays free of torch.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TrainConfig", "TrainOutcome", "train_cell"]


def __getattr__(name: str) -> Any:
    if name in ("train_cell", "TrainOutcome"):
        from rvhpc.training import run

        return getattr(run, name)
    if name == "TrainConfig":
        from rvhpc.training.config import TrainConfig

        return TrainConfig
    raise AttributeError(name)
