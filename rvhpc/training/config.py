"""The training configuration of one grid cell (reference.md section 1 settings as defaults).

:class:`TrainConfig` is also the one source of ``rvhpc train``'s options: a field made with
:func:`option` (a help text, optionally an option name) becomes ``--field-name`` there, with the
field's type and default (``rvhpc/cli/_config_options.py`` turns :meth:`TrainConfig.cli_fields`
into Typer options). Adding a training setting the user can pass on the command line is one line
here, e.g.::

    validation_period: Int | None = option("Epochs between validations.", None, ge=1, le=MAX_EPOCHS)

and it is then a key of the grid's ``train:`` block, an option of ``rvhpc train`` and part of the
run's identity; the docs/cli pages are regenerated with ``python -m rvhpc.cli.helpdocs docs/cli``.

Every number is bounded (docs/limits.md): the limits lie far beyond any real study but refuse a
typo of a few zeros before anything is allocated (``hidden: 1e9`` once tried to allocate
gigabytes under ``grid show --estimate``, ``epochs: 1e15`` projected 82 billion device-hours).
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationError, model_validator

from rvhpc.config_io import Float, Int, Seed, Strict, location
from rvhpc.errors import ConfigError, excerpt
from rvhpc.experiments import KINDS_WITH_DIM, check_cell, experiment_name
from rvhpc.numerics import DEFAULT_MODE

#: fields that change how a run executes, not what it is (its cell id); a resumed run may change
#: them. ``numerics`` and ``threads`` do change the last bits of a CPU run: each run directory's
#: provenance.json records them, and collect warns when the seeds of an experiment differ in them.
RUNTIME_FIELDS = ("device", "log_every", "threads", "numerics")
PRECISIONS = ("fp32", "tf32", "bf16")
#: fields of basin-list, training-period and PUB scenarios (left out of the identity when None)
SCENARIO_FIELDS = ("basins", "eval_basins", "train_period")
#: fields left out of the identity when None, so that the ids of cells that do not use them stay
#: what they were before the fields existed
OPTIONAL_FIELDS = (*SCENARIO_FIELDS, "samples_per_epoch", "val_period", "early_stopping")

#: identity fields left out of :meth:`TrainConfig.identity` while they hold these values, so the
#: ids and run directories of runs made before the field existed stay valid; a recorded config
#: that lacks one of them had this value
IDENTITY_DEFAULTS: dict[str, Any] = {
    "precision": "fp32",
    "output_stats": "observed",
    **{key: None for key in OPTIONAL_FIELDS},
}
#: labels that name or group a run but do not change what it computes (never in the identity;
#: a sweep point's or trial's values are, as train settings)
LABEL_FIELDS = ("scenario", "paired_draw", "name", "point")

#: bounds of the numeric settings (docs/limits.md); the paper's values are 20, 256, 256 and 270
MAX_EPOCHS = 10_000
MAX_HIDDEN = 4_096
MAX_BATCH = 65_536
MAX_SEQ_DAYS = 3_660  # ten years of daily inputs
MAX_LR = 10.0
MAX_CLIP = 1e6
MAX_FORGET_BIAS = 100.0
MAX_LOG_EVERY = 1_000_000
MAX_THREADS = 4_096
#: the largest static dimension d; the memory check (data/footprint.py) refuses far less on any
#: real machine, with the gigabytes it would take
MAX_DIM = 100_000_000


def option(help: str, default: Any = ..., *, name: str | None = None, **bounds: Any) -> Any:
    """A TrainConfig field that is also an option of ``rvhpc train``.

    Parameters
    ----------
    help : str
        The option's help text ("" for none).
    default : Any
        The field's default (``...``: required).
    name : str, optional
        The option name when it is not ``--`` plus the field name with dashes
        (``initial_forget_bias`` is ``--forget-bias``).
    **bounds
        pydantic constraints (``ge``, ``le``, ...).

    Returns
    -------
    pydantic FieldInfo
    """
    return Field(default, description=help, json_schema_extra={"cli": name or ""}, **bounds)


@dataclass(frozen=True)
class CliField:
    """One ``rvhpc train`` option made from a TrainConfig field (no Typer here: see the CLI)."""

    field: str
    option: str
    help: str
    type: type
    optional: bool
    default: Any  # ``...`` when required


class EarlyStopping(Strict):
    """``train: {early_stopping: {patience: P}}``: score the validation period after every epoch,
    stop after P epochs without a better median NSE, and keep the best epoch's weights."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    patience: Int = Field(ge=1)


class TrainConfig(Strict):
    """Everything that defines one training run. Unknown keys are refused.

    The defaults are the paper's settings: hidden 256, batch 256, 20 epochs, Adam lr 1e-3 and
    5e-4 from epoch 11 (1-based) on, dropout 0.4, gradient-norm clip 1, forget bias 5, 270 days.
    """

    model_config = ConfigDict(frozen=True)  # unknown keys are refused by Strict

    store: Path = option("Basin store (rvhpc data prepare).")
    arch: str = option("Architecture: ea, ct, sr, fm or lstm (no statics).", "ea")
    static: str = option("Static vector: physics, gaussian, mixed, one_hot, none.", "physics")
    dim: Int | None = option(
        "Dimension d of gaussian/mixed vectors (mixed: d >= 28).", None, ge=1, le=MAX_DIM
    )
    attr_seed: Seed = option("Seed of the Gaussian static vectors.", 0)
    seed: Seed = option("Init seed (model weights, sample order, dropout).", 0)
    #: the grid's ``attr_seeds: paired``: this run's draw follows its init seed (attr_seed == seed),
    #: and collect ensembles a dimension's runs across their (seed, attr_seed) pairs. A label for
    #: grouping, not part of what is computed: left out of :meth:`identity`.
    paired_draw: bool = option(
        "Label the run as one of a paired study (--attr-seed equal to --seed, as a grid's "
        "attr_seeds: paired): collect ensembles such runs across their draws.",
        False,
    )
    epochs: Int = option("", 20, ge=1, le=MAX_EPOCHS)
    #: training windows drawn per epoch, without replacement, in an order seeded by (seed, epoch);
    #: None (the default) visits every window each epoch. More than there are windows: every
    #: window, exactly as None (with a line saying so). Left out of :meth:`identity` when None.
    samples_per_epoch: Int | None = option(
        "Training windows drawn per epoch without replacement, seeded by --seed and the epoch "
        "(default: every window; more than there are: every window).",
        None,
        ge=1,
        le=2**62,
    )
    hidden: Int = option("Hidden size.", 256, ge=1, le=MAX_HIDDEN)
    batch_size: Int = option(
        "GLOBAL batch; each of N DDP ranks takes batch/N (must divide).", 256, ge=1, le=MAX_BATCH
    )
    seq_length: Int = option("Input window in days.", 270, ge=1, le=MAX_SEQ_DAYS)
    lr: Float = option("Adam learning rate of the first epochs.", 1e-3, gt=0, le=MAX_LR)
    lr_late: Float = option("Learning rate from --lr-late-epoch on.", 5e-4, gt=0, le=MAX_LR)
    lr_late_epoch: Int = option(
        "1-based epoch from which --lr-late applies.", 11, ge=1, le=MAX_EPOCHS
    )
    dropout: Float = option("Dropout on the last hidden state.", 0.4, ge=0, lt=1)
    clip_norm: Float = option("Gradient-norm clip.", 1.0, gt=0, le=MAX_CLIP)
    initial_forget_bias: Float = option(
        "Initial value of the first H gate biases.",
        5.0,
        name="--forget-bias",
        ge=-MAX_FORGET_BIAS,
        le=MAX_FORGET_BIAS,
    )
    #: output mean/std: ``observed`` (the store's, over training samples) or ``original`` (the
    #: original code's, missing days counted as -999 cfs; rvhpc.data.scalers)
    output_stats: Literal["observed", "original"] = option(
        "Discharge mean/std: observed (training samples) or original (the original code's: "
        "missing days as -999 cfs, see docs/departures.md).",
        "observed",
    )
    device: str = option("auto (GPU when available), cpu, cuda or cuda:N.", "auto")
    log_every: Int = option(
        "Batches between log lines when not on a terminal.", 50, ge=1, le=MAX_LOG_EVERY
    )
    threads: Int | None = option(
        "CPU threads (default: SLURM_CPUS_PER_TASK or OMP_NUM_THREADS).",
        None,
        ge=1,
        le=MAX_THREADS,
    )
    numerics: Literal["portable", "fast"] = option(
        "portable: the same bits for the same seed and threads on every x86-64 CPU with AVX2 (one "
        "fixed kernel path); fast: this machine's fastest kernels. See docs/numerics.md.",
        DEFAULT_MODE,
    )
    #: fp32 (strict: no TF32 in matmuls or cuDNN), tf32 (TF32 tensor cores for float32 matmuls on
    #: Ampere+ GPUs: 10-bit mantissa products, fp32 accumulation) or bf16 (refused for now)
    precision: str = option(
        "fp32 (default, strict: no TF32) or tf32 (TF32 tensor cores on the GPU).", "fp32"
    )
    # scenario fields (rvhpc/scenarios.py); None = the whole store, its whole training period
    basins: list[str] | None = None  # training basins, a subset of the store's
    eval_basins: list[str] | None = None  # basins predicted in the eval period (PUB: held out)
    train_period: tuple[str, str] | None = None  # inside the store's training period
    scenario: dict[str, Any] | None = None  # labels for collect; not part of the identity
    #: [first day, last day] scored besides the evaluation period (val_predictions.parquet); it
    #: lies in the store's days, outside its training and evaluation periods
    val_period: tuple[str, str] | None = None
    early_stopping: EarlyStopping | None = None  # needs val_period
    #: a sweep point or search trial: {"name": "hidden=64", "values": {...}}; a label for collect
    #: and the run folder, not part of the identity (the swept values are)
    point: dict[str, Any] | None = None
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
        check_validation(self.val_period, self.train_period, self.early_stopping)
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

    @classmethod
    def cli_fields(cls) -> list[CliField]:
        """The fields made with :func:`option`, in field order, as ``rvhpc train`` options.

        Returns
        -------
        list[CliField]
            Option name, help, plain type (``int`` for ``Int``, ``str`` for a Literal), whether
            it may be None, and the default (``...`` when required).
        """
        out = []
        for name, info in cls.model_fields.items():
            extra = info.json_schema_extra
            if not isinstance(extra, dict) or "cli" not in extra:
                continue
            base, optional = _plain_type(info.annotation)
            default = ... if info.is_required() else info.default
            opt = str(extra["cli"]) or "--" + name.replace("_", "-")
            out.append(CliField(name, opt, info.description or "", base, optional, default))
        return out

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
        """The fields that define the result (the cell id's input; a run dir holding another
        config is refused).

        The store's path is left out: its contents are compared by fingerprint instead, so a run
        resumes after the store moved (another mount point inside a container, say). So are the
        labels (LABEL_FIELDS): ``paired_draw`` ((attr_seed k, seed k) is one run however it is
        labelled), ``scenario``, a sweep point's ``point`` and the experiment's ``name``, which is
        why naming an experiment (or renaming it) keeps its cell ids and run directories.

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


def _plain_type(annotation: Any) -> tuple[type, bool]:
    """(plain type, may be None) of a field annotation: ``Int | None`` -> (int, True), a Literal
    of strings -> (str, False)."""
    optional = False
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional, annotation = True, args[0]
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) is Literal:
        annotation = type(typing.get_args(annotation)[0])
    return annotation, optional


def check_validation(
    val: tuple[str, str] | None, train: tuple[str, str] | None, stopping: Any
) -> None:
    """ConfigError for a validation period that is not two ordered dates or shares days with a
    scenario's training period, and for early stopping without a validation period."""
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


def _one_line(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = location(err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"training option {where}: {msg} (got {excerpt(err.get('input'))}){more}"
