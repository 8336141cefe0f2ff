"""The training configuration of one grid cell (reference.md section 1 settings as defaults).

:class:`TrainConfig` is also the one source of ``rvhpc train``'s options: a field made with
:func:`rvhpc.training.options.option` (a help text, optionally an option name) becomes
``--field-name`` there, with the field's type and default (``rvhpc/cli/_cell_options.py`` turns
:meth:`TrainConfig.cli_fields` into Typer options). Adding a training setting the user can pass
on the command line is one line here, e.g.::

    validation_period: Int | None = option("Epochs between validations.", None, ge=1, le=MAX_EPOCHS)

and it is then a key of the grid's ``train:`` block, an option of ``rvhpc train`` and part of the
run's identity; the docs/cli pages are regenerated with ``python -m rvhpc.cli.helpdocs docs/cli``.

Every number is bounded (:mod:`rvhpc.training.limits`, docs/limits.md). Which fields make the
run's identity is :mod:`rvhpc.training.identity`; the checks that span fields are
:mod:`rvhpc.training.config_checks`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationError, model_validator

from rvhpc.config_io import Float, Int, Seed, Strict, location
from rvhpc.errors import ConfigError, excerpt
from rvhpc.experiments import check_cell, experiment_name
from rvhpc.numerics import DEFAULT_MODE, MODES
from rvhpc.training.config_checks import (
    check_paired_draw,
    check_precision,
    check_scenario,
    check_validation,
)
from rvhpc.training.identity import identity_differences, identity_of
from rvhpc.training.limits import (
    MAX_BATCH,
    MAX_CLIP,
    MAX_DIM,
    MAX_EPOCHS,
    MAX_FORGET_BIAS,
    MAX_HIDDEN,
    MAX_LOG_EVERY,
    MAX_LR,
    MAX_SEQ_DAYS,
    MAX_THREADS,
)
from rvhpc.training.options import CliField, cli_fields, option


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
    numerics: Literal[MODES] = option(
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
        check_precision(self.precision)
        check_paired_draw(self.paired_draw, self.seed, self.attr_seed, self.static)
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
        """The fields made with :func:`option`, in field order, as ``rvhpc train`` options
        (:func:`rvhpc.training.options.cli_fields`).

        Returns
        -------
        list[CliField]
        """
        return cli_fields(cls)

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
        config is refused): :func:`rvhpc.training.identity.identity_of`.

        The store's path is left out (its contents are compared by fingerprint), and so are the
        labels: ``paired_draw`` ((attr_seed k, seed k) is one run however it is labelled),
        ``scenario``, a sweep point's ``point`` and the experiment's ``name``, which is why
        naming an experiment (or renaming it) keeps its cell ids and run directories.

        Returns
        -------
        dict
            JSON values; :func:`rvhpc.grid.cells.cell_id` hashes them.
        """
        return identity_of(self.model_dump(mode="json"))

    def differences(self, recorded: dict[str, Any]) -> list[tuple[str, Any, Any]]:
        """(field, recorded value, this config's value) of every identity field that differs.

        THE comparison of "does this run directory hold this run"
        (:func:`rvhpc.training.identity.identity_differences`): ``rvhpc train`` refuses a run dir
        on it, and the grid commands call a cell *stale* on it.

        Parameters
        ----------
        recorded : dict
            A run's ``config.json``.

        Returns
        -------
        list of (str, Any, Any)
            Sorted by field name; empty when the run is this config's.
        """
        return identity_differences(self.identity(), recorded)


def _one_line(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = location(err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"training option {where}: {msg} (got {excerpt(err.get('input'))}){more}"
