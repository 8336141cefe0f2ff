"""The training configuration of one grid cell (reference.md section 1 settings as defaults)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationError, model_validator

from rvhpc.config_io import Float, Int, Strict
from rvhpc.errors import ConfigError
from rvhpc.experiments import KINDS_WITH_DIM, check_cell, experiment_name

#: fields that change how a run executes but not what it computes; a resumed run may change them
RUNTIME_FIELDS = ("device", "log_every", "threads")
PRECISIONS = ("fp32", "tf32", "bf16")
#: fields of basin-list, training-period and PUB scenarios (left out of the identity when None)
SCENARIO_FIELDS = ("basins", "eval_basins", "train_period")
#: identity fields left out of :meth:`TrainConfig.identity` while they hold these values, so the
#: ids and run directories of runs made before the field existed stay valid; a recorded config
#: that lacks one of them had this value
IDENTITY_DEFAULTS: dict[str, Any] = {
    "precision": "fp32",
    "output_stats": "observed",
    **{key: None for key in SCENARIO_FIELDS},
}
#: labels that name or group a run but do not change what it computes (never in the identity)
LABEL_FIELDS = ("scenario", "paired_draw", "name")


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
    #: fp32 (strict: no TF32 in matmuls or cuDNN), tf32 (TF32 tensor cores for float32 matmuls on
    #: Ampere+ GPUs: 10-bit mantissa products, fp32 accumulation) or bf16 (refused for now)
    precision: str = "fp32"
    # scenario fields (rvhpc/scenarios.py); None = the whole store, its whole training period
    basins: list[str] | None = None  # training basins, a subset of the store's
    eval_basins: list[str] | None = None  # basins predicted in the eval period (PUB: held out)
    train_period: tuple[str, str] | None = None  # inside the store's training period
    scenario: dict[str, Any] | None = None  # labels for collect; not part of the identity
    #: the experiment's name (a grid's ``name:``); None: the paper's name (EP, EG-64, ...). A
    #: label like ``scenario``: left out of the identity, so naming an experiment keeps its cells
    name: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[^@\x00-\x1f\x7f]+$")

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
        """Build and validate a config; any problem becomes one ConfigError line.

        Parameters
        ----------
        **values
            TrainConfig fields.

        Returns
        -------
        TrainConfig

        Raises
        ------
        ConfigError
            Naming the first field that is wrong (and how many more are).
        """
        try:
            return cls(**values)
        except (
            ValidationError
        ) as exc:  # check_cell's ConfigError is not a ValueError: it passes through
            raise ConfigError(_one_line(exc)) from None

    @property
    def experiment(self) -> str:
        """This cell's experiment: its ``name``, else the paper's name (EP, EG-64, ...)."""
        return self.name or experiment_name(self.arch, self.static, self.dim)

    def lr_for_epoch(self, epoch: int) -> float:
        """Learning rate of a 1-based epoch.

        Parameters
        ----------
        epoch : int

        Returns
        -------
        float
            ``lr`` before ``lr_late_epoch``, ``lr_late`` from it on.
        """
        return self.lr_late if epoch >= self.lr_late_epoch else self.lr

    def identity(self) -> dict[str, Any]:
        """The fields that define the result (used to refuse a run dir holding another config).

        The store's path is left out: its contents are compared by fingerprint instead, so a run
        resumes after the store moved (another mount point inside a container, say). So are the
        labels (LABEL_FIELDS): ``paired_draw`` ((attr_seed k, seed k) is one run however it is
        labelled), ``scenario`` and the experiment's ``name``, which is why naming an experiment
        (or renaming it) keeps its cell ids and run directories.

        Returns
        -------
        dict
            JSON values; :func:`rvhpc.grid.cells.cell_id` hashes them.
        """
        data = self.model_dump(mode="json")
        for key in (*RUNTIME_FIELDS, "store", *LABEL_FIELDS):
            data.pop(key)
        # absent at their defaults: the ids and run dirs of earlier (and plain) cells stay valid
        for key, default in IDENTITY_DEFAULTS.items():
            if data[key] == default:
                data.pop(key)
        return data

    def differences(self, recorded: dict[str, Any]) -> list[tuple[str, Any, Any]]:
        """(field, recorded value, this config's value) of every identity field that differs.

        THE comparison of "does this run directory hold this run": ``rvhpc train`` refuses a run
        dir on it (:meth:`rvhpc.training.rundir.RunDir.check_same`), and the grid commands call a
        cell *stale* on it. Fields left out of the identity at their defaults are compared at
        those defaults, so a run recorded with ``output_stats: original`` differs from one that
        asks for the default.

        Parameters
        ----------
        recorded : dict
            A run's ``config.json``.

        Returns
        -------
        list of (str, Any, Any)
            Sorted by field name; empty when the run is this config's.
        """
        identity = self.identity()
        keys = sorted(set(identity) | set(IDENTITY_DEFAULTS))
        out = []
        for key in keys:
            new = identity.get(key, IDENTITY_DEFAULTS.get(key))
            old = recorded.get(key, IDENTITY_DEFAULTS.get(key))
            if old != new:
                out.append((key, old, new))
        return out


def describe_differences(diffs: list[tuple[str, Any, Any]], limit: int = 3) -> str:
    """``hidden 4 -> 8, basins 9 -> 7 basins``: differences of :meth:`TrainConfig.differences` in
    a short line (basin lists by their size and what changed, never the ids in full).

    Parameters
    ----------
    diffs : list of (field, old, new)
    limit : int
        Fields shown; more are counted (``(+2 more)``).

    Returns
    -------
    str
    """
    shown = [f"{key} {_value_change(key, old, new)}" for key, old, new in diffs[:limit]]
    more = f" (+{len(diffs) - limit} more)" if len(diffs) > limit else ""
    return ", ".join(shown) + more


def _value_change(key: str, old: Any, new: Any) -> str:
    if key == "train_period":
        return f"{_period(old)} -> {_period(new)}"
    if key not in ("basins", "eval_basins") or not (isinstance(old, list) or isinstance(new, list)):
        return f"{_short(old)} -> {_short(new)}"
    olds, news = set(old or ()), set(new or ())
    detail = [f"+{len(news - olds)}"] if news - olds else []
    detail += [f"-{len(olds - news)}"] if olds - news else []
    extra = f" ({' '.join(detail)})" if old is not None and new is not None and detail else ""
    return f"{_count(old)} -> {_count(new)} basins{extra}"


def _period(value: Any) -> str:
    if isinstance(value, list | tuple) and len(value) == 2:
        return f"{value[0]}..{value[1]}"
    return "(the store's)" if value is None else _short(value)


def _count(ids: list | None) -> str:
    return "all" if ids is None else str(len(ids))


def _short(value: Any) -> str:
    text = "(unset)" if value is None else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_pack(configs: list[TrainConfig], run_dirs: list[Path]) -> None:
    """Members share everything but seed and attr_seed, and write to distinct folders.

    Parameters
    ----------
    configs : list[TrainConfig]
    run_dirs : list[Path]

    Raises
    ------
    ConfigError
        Members that differ in more, share a folder, or repeat a (seed, attr_seed) pair.
    """
    if not configs or len(configs) != len(run_dirs):
        raise ConfigError("a pack needs one run directory per member")
    shared = [
        {k: v for k, v in c.model_dump(mode="json").items() if k not in ("seed", "attr_seed")}
        for c in configs
    ]
    if any(s != shared[0] for s in shared):
        raise ConfigError("the members of a pack may differ only in seed and attr_seed")
    resolved = [Path(d).resolve() for d in run_dirs]
    if len(set(resolved)) != len(resolved):
        raise ConfigError("the members of a pack need distinct run directories")
    pairs = [(c.seed, c.attr_seed) for c in configs]
    if len(set(pairs)) != len(pairs):
        raise ConfigError("the members of a pack must differ in seed or attr_seed")


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


def _one_line(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "config"
    msg = err["msg"]
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"training option {where}: {msg} (got {err.get('input')!r}){more}"
