"""The checks of a TrainConfig that span several fields: precision, paired draws, scenarios and
the validation period. Each raises one ConfigError line naming the training option; the single
fields' bounds are pydantic's (:mod:`rvhpc.training.limits`), and the arch/static/dim check is
:func:`rvhpc.experiments.check_cell`.
"""

from __future__ import annotations

from typing import Any

from rvhpc.errors import ConfigError
from rvhpc.experiments import KINDS_WITH_DIM

PRECISIONS = ("fp32", "tf32", "bf16")


def check_precision(precision: str) -> None:
    """ConfigError for a precision that is not fp32 or tf32.

    bf16 is a known name but refused for now: bf16 GEMM operands need a scientific validation
    first.

    Parameters
    ----------
    precision : str

    Raises
    ------
    ConfigError
    """
    if precision not in PRECISIONS:
        raise ConfigError(f"--precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
    if precision == "bf16":
        raise ConfigError(
            "--precision bf16 is not implemented yet (bf16 GEMM operands need a scientific "
            "validation first): use fp32 or tf32"
        )


def check_paired_draw(paired_draw: bool, seed: int, attr_seed: int, static: str) -> None:
    """ConfigError for a run labelled ``paired_draw`` whose draw does not follow its init seed, or
    whose static vectors are not drawn at all.

    Parameters
    ----------
    paired_draw : bool
        The label (a grid's ``attr_seeds: paired``).
    seed, attr_seed : int
        The init seed and the seed of the Gaussian static vectors.
    static : str
        The static kind.

    Raises
    ------
    ConfigError
    """
    if paired_draw and attr_seed != seed:
        raise ConfigError(f"paired_draw: attr_seed ({attr_seed}) must equal the init seed ({seed})")
    if paired_draw and static not in KINDS_WITH_DIM:
        raise ConfigError(f"paired_draw applies only to gaussian and mixed vectors, not {static!r}")


def check_scenario(
    basins: list[str] | None, eval_basins: list[str] | None, period: tuple[str, str] | None
) -> None:
    """ConfigError for an empty or repeating basin list, held-out basins that are also trained
    on, or a training period that is not two ordered dates.

    Parameters
    ----------
    basins, eval_basins : list of str, optional
        Training and held-out basins.
    period : (str, str), optional
        The training period.

    Raises
    ------
    ConfigError
    """
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


def check_validation(
    val: tuple[str, str] | None, train: tuple[str, str] | None, stopping: Any
) -> None:
    """ConfigError for a validation period that is not two ordered dates or shares days with a
    scenario's training period, and for early stopping without a validation period.

    Parameters
    ----------
    val : (str, str), optional
        The validation period.
    train : (str, str), optional
        A scenario's training period (None: the store's).
    stopping : EarlyStopping, optional
        The early-stopping settings.

    Raises
    ------
    ConfigError
    """
    from rvhpc.periods import check_apart, parse_period

    if stopping is not None and val is None:
        raise ConfigError(
            "training option early_stopping: needs a validation period (data.validation_period "
            "in the grid, or --val-start/--val-end)"
        )
    if val is None:
        return
    try:
        parse_period(val)
        check_apart(val, {"training": train})
    except ValueError as exc:
        raise ConfigError(f"training option val_period: {exc}") from None
