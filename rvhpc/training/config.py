"""The training configuration of one grid cell (reference.md section 1 settings as defaults)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field, ValidationError, model_validator

from rvhpc.config_io import Strict
from rvhpc.errors import ConfigError
from rvhpc.experiments import check_cell, experiment_name

#: fields that change how a run executes but not what it computes; a resumed run may change them
RUNTIME_FIELDS = ("device", "log_every", "threads")


class TrainConfig(Strict):
    """Everything that defines one training run. Unknown keys are refused.

    The defaults are the paper's settings: hidden 256, batch 256, 20 epochs, Adam lr 1e-3 and
    5e-4 from epoch 11 (1-based) on, dropout 0.4, gradient-norm clip 1, forget bias 5, 270 days.
    """

    model_config = ConfigDict(frozen=True)  # unknown keys are refused by Strict

    store: Path
    arch: str = "ea"
    static: str = "physics"
    dim: int | None = None
    attr_seed: int = 0
    seed: int = 0
    epochs: int = Field(20, ge=1)
    hidden: int = Field(256, ge=1)
    batch_size: int = Field(256, ge=1)
    seq_length: int = Field(270, ge=1)
    lr: float = Field(1e-3, gt=0)
    lr_late: float = Field(5e-4, gt=0)
    lr_late_epoch: int = Field(11, ge=1)
    dropout: float = Field(0.4, ge=0, lt=1)
    clip_norm: float = Field(1.0, gt=0)
    initial_forget_bias: float = 5.0
    device: str = "auto"
    log_every: int = Field(50, ge=1)
    threads: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _check_cell(self) -> TrainConfig:
        check_cell(self.arch, self.static, self.dim)
        return self

    @classmethod
    def create(cls, **values: Any) -> TrainConfig:
        """Build and validate a config; any problem becomes one ConfigError line."""
        try:
            return cls(**values)
        except (
            ValidationError
        ) as exc:  # check_cell's ConfigError is not a ValueError: it passes through
            raise ConfigError(_one_line(exc)) from None

    @property
    def experiment(self) -> str:
        """The paper's name of this cell's experiment (EP, EG-64, ...)."""
        return experiment_name(self.arch, self.static, self.dim)

    def lr_for_epoch(self, epoch: int) -> float:
        """Learning rate of a 1-based epoch."""
        return self.lr_late if epoch >= self.lr_late_epoch else self.lr

    def identity(self) -> dict[str, Any]:
        """The fields that define the result (used to refuse a run dir holding another config).

        The store's path is left out: its contents are compared by fingerprint instead, so a run
        resumes after the store moved (another mount point inside a container, say).
        """
        data = self.model_dump(mode="json")
        for key in (*RUNTIME_FIELDS, "store"):
            data.pop(key)
        return data


def _one_line(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "config"
    msg = err["msg"]
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"training option {where}: {msg} (got {err.get('input')!r}){more}"
