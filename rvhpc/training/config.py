"""The training configuration of one grid cell (reference.md section 1 settings as defaults)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationError, model_validator

from rvhpc.config_io import Float, Int, Strict
from rvhpc.errors import ConfigError
from rvhpc.experiments import KINDS_WITH_DIM, check_cell, experiment_name
from rvhpc.numerics import DEFAULT_MODE

#: fields that change how a run executes, not what it is (its cell id); a resumed run may change
#: them. ``numerics`` and ``threads`` do change the last bits of a CPU run: each run directory's
#: provenance.json records them, and collect warns when the seeds of an experiment differ in them.
RUNTIME_FIELDS = ("device", "log_every", "threads", "numerics")
PRECISIONS = ("fp32", "tf32", "bf16")
#: fields of basin-list, training-period and PUB scenarios (left out of the identity when None)
SCENARIO_FIELDS = ("basins", "eval_basins", "train_period")


class TrainConfig(Strict):
    """Everything that defines one training run. Unknown keys are refused.

    The defaults are the paper's settings: hidden 256, batch 256, 20 epochs, Adam lr 1e-3 and
    5e-4 from epoch 11 (1-based) on, dropout 0.4, gradient-norm clip 1, forget bias 5, 270 days.
    """

    model_config = ConfigDict(frozen=True)  # unknown keys are refused by Strict

    store: Path
    arch: str = "ea"
    static: str = "physics"
    dim: Int | None = None
    attr_seed: Int = Field(0, ge=0, lt=2**32)  # numpy's legacy seed range (np.random.seed)
    seed: Int = 0
    #: the grid's ``attr_seeds: paired``: this run's draw follows its init seed (attr_seed == seed),
    #: and collect ensembles a dimension's runs across their (seed, attr_seed) pairs. A label for
    #: grouping, not part of what is computed: left out of :meth:`identity`.
    paired_draw: bool = False
    epochs: Int = Field(20, ge=1)
    hidden: Int = Field(256, ge=1)
    batch_size: Int = Field(256, ge=1)
    seq_length: Int = Field(270, ge=1)
    lr: Float = Field(1e-3, gt=0)
    lr_late: Float = Field(5e-4, gt=0)
    lr_late_epoch: Int = Field(11, ge=1)
    dropout: Float = Field(0.4, ge=0, lt=1)
    clip_norm: Float = Field(1.0, gt=0)
    initial_forget_bias: Float = 5.0
    #: output mean/std: ``observed`` (the store's, over training samples) or ``original`` (the
    #: original code's, missing days counted as -999 cfs; rvhpc.data.scalers)
    output_stats: Literal["observed", "original"] = "observed"
    device: str = "auto"
    log_every: Int = Field(50, ge=1)
    threads: Int | None = Field(None, ge=1)
    #: the kernel path (rvhpc.numerics): portable (the same bits on every x86-64 CPU with AVX2) or
    #: fast (this machine's fastest path)
    numerics: Literal["portable", "fast"] = DEFAULT_MODE
    #: fp32 (strict: no TF32 in matmuls or cuDNN), tf32 (TF32 tensor cores for float32 matmuls on
    #: Ampere+ GPUs: 10-bit mantissa products, fp32 accumulation) or bf16 (refused for now)
    precision: str = "fp32"
    # scenario fields (rvhpc/scenarios.py); None = the whole store, its whole training period
    basins: list[str] | None = None  # training basins, a subset of the store's
    eval_basins: list[str] | None = None  # basins predicted in the eval period (PUB: held out)
    train_period: tuple[str, str] | None = None  # inside the store's training period
    scenario: dict[str, Any] | None = None  # labels for collect; not part of the identity

    @model_validator(mode="after")
    def _check_cell(self) -> TrainConfig:
        check_cell(self.arch, self.static, self.dim)
        if self.precision not in PRECISIONS:
            raise ConfigError(
                f"--precision {self.precision!r}: choose one of {', '.join(PRECISIONS)}"
            )
        if self.precision == "bf16":
            raise ConfigError(
                "--precision bf16 is not implemented yet (bf16 GEMM operands need a scientific "
                "validation first): use fp32 or tf32"
            )
        if self.paired_draw and self.attr_seed != self.seed:
            raise ConfigError(
                f"paired_draw: attr_seed ({self.attr_seed}) must equal the init seed ({self.seed})"
            )
        if self.paired_draw and self.static not in KINDS_WITH_DIM:
            raise ConfigError(
                f"paired_draw applies only to gaussian and mixed vectors, not {self.static!r}"
            )
        check_scenario(self.basins, self.eval_basins, self.train_period)
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
        resumes after the store moved (another mount point inside a container, say). So is
        ``paired_draw``, a grouping label: (attr_seed k, seed k) is one run however it is labelled.
        """
        data = self.model_dump(mode="json")
        for key in (*RUNTIME_FIELDS, "store", "scenario", "paired_draw"):
            data.pop(key)
        if data["precision"] == "fp32":  # the default: ids and run dirs of earlier runs stay valid
            data.pop("precision")
        for key in SCENARIO_FIELDS:  # absent when unset: the ids of plain cells do not change
            if data[key] is None:
                data.pop(key)
        if data["output_stats"] == "observed":  # the default before the option existed:
            data.pop("output_stats")  # earlier runs and cell ids stay valid
        return data


def check_scenario(
    basins: list[str] | None, eval_basins: list[str] | None, period: tuple[str, str] | None
) -> None:
    """ConfigError for an empty or repeating basin list, held-out basins that are also trained
    on, or a training period that is not two ordered dates."""
    import pandas as pd

    for name, ids in (("basins", basins), ("eval_basins", eval_basins)):
        if ids is not None and (not ids or len(set(ids)) != len(ids)):
            raise ConfigError(f"training option {name}: needs distinct basin ids, at least one")
    if basins is not None and eval_basins is not None and set(basins) & set(eval_basins):
        raise ConfigError(
            "training option eval_basins: held-out basins must not be among the training basins"
        )
    if period is not None:
        try:
            start, end = (pd.Timestamp(d) for d in period)
        except ValueError:
            raise ConfigError(f"training option train_period: not two dates: {period!r}") from None
        if start > end:
            raise ConfigError(f"training option train_period: {period[0]} is after {period[1]}")


def _one_line(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "config"
    msg = err["msg"]
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"training option {where}: {msg} (got {err.get('input')!r}){more}"
