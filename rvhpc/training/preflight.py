"""A pack's checks before anything is written, and the data it then trains on.

:func:`rvhpc.training.run.train_pack` refuses bad input before it writes a byte, in this order
(the error a user sees first): the members (:func:`check_pack`, :func:`force_flags`), their run
directories (a lock another trainer holds, files no training of it wrote, another run's config),
the store (the memory the run needs, held-out basins, the validation period), and the windows
(training samples, and the warm-up of the evaluation and validation periods, found missing now
rather than after training). :func:`load_inputs` returns what passed: :class:`PackInputs`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rvhpc import progress
from rvhpc.data.footprint import check_memory
from rvhpc.errors import ConfigError, DataError
from rvhpc.jobenv import JobEnv
from rvhpc.training import validation
from rvhpc.training.config import TrainConfig
from rvhpc.training.order import epoch_size_line
from rvhpc.training.rundir import RunDir
from rvhpc.training.runlock import RunLock


@dataclass
class PackInputs:
    """What the members of a pack train on, checked.

    Attributes
    ----------
    store : BasinStore
        The training view of the store (a scenario's basins and period), with its output scalers.
    fingerprint : str
        The store's; recorded in each member's config.json.
    statics : dict
        Member index -> its StaticVectors (one draw per attr_seed, shared by the members).
    sampler : WindowSampler
    samples : np.ndarray
        The training samples.
    """

    store: Any
    fingerprint: str
    statics: dict[int, Any]
    sampler: Any
    samples: np.ndarray


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


def force_flags(force: bool | Sequence[bool], members: int) -> list[bool]:
    """One ``--force`` flag per member: the same for all, or the grid's per-member flags
    (``--rerun-stale`` forces only the stale members).

    Parameters
    ----------
    force : bool or sequence of bool
    members : int
        The pack's size.

    Returns
    -------
    list of bool

    Raises
    ------
    ConfigError
        A sequence of another length.
    """
    forced = [force] * members if isinstance(force, bool) else [bool(f) for f in force]
    if len(forced) != members:
        raise ConfigError("a pack needs one force flag per member")
    return forced


def load_inputs(
    configs: list[TrainConfig], rds: list[RunDir], todo: list[int], forced: list[bool], env: JobEnv
) -> PackInputs:
    """Check the members ``todo`` and their run directories against the store, and load what
    they train on. Nothing is written.

    Parameters
    ----------
    configs : list[TrainConfig]
        The pack's members (they differ only in seed and attr_seed: :func:`check_pack`).
    rds : list[RunDir]
        Their run directories.
    todo : list of int
        The members with work to do (not DONE, not diverged before).
    forced : list of bool
        Per member: start over (``--force``), so its folder's files are not checked.
    env : JobEnv
        The ranks that will share each step.

    Returns
    -------
    PackInputs

    Raises
    ------
    RvhpcError
        A folder locked by another trainer or holding another run's files, a missing or
        incompatible store, too little memory, a scenario the store cannot serve, or windows
        without the data they need.
    """
    from rvhpc.data.store import open_store

    config = configs[0]
    for k in todo:
        RunLock(rds[k].path).check_free()  # another trainer in this folder: say who, first
        if not forced[k]:
            rds[k].check_own()
    store = open_store(config.store, period="train", warmup=config.seq_length - 1)
    check_memory(config.static, config.dim, store, config.hidden)  # before allocating
    fingerprint = store.fingerprint  # hash of the store's inputs, written by prepare_store
    for k in todo:
        if not forced[k]:
            rds[k].check_same(configs[k], fingerprint)
    store = _training_view(config, store)
    statics = _statics(configs, todo, store)
    sampler, samples = _training_samples(config, store, env)
    _check_eval_windows(config, store)
    return PackInputs(store, fingerprint, statics, sampler, samples)


def _training_view(config: TrainConfig, store: Any) -> Any:
    """The scenario's view of the store with its scalers, after the checks of the whole store:
    held-out basins found missing now, not after training; a validation period outside the
    store's training and evaluation periods."""
    from rvhpc.data.scalers import output_stats, use_output_stats
    from rvhpc.data.select import select_basins, training_view

    if config.eval_basins is not None:
        select_basins(store, list(config.eval_basins), "held-out (eval_basins)")
    validation.check_period(config, store)
    store = training_view(store, config)  # a scenario's basins and period, with their scalers
    use_output_stats(store, output_stats(store, config.output_stats))
    return store


def _statics(configs: list[TrainConfig], todo: list[int], store: Any) -> dict[int, Any]:
    """Each member's static vectors, drawn once per attr_seed."""
    from rvhpc.data.statics import build_statics

    config = configs[0]
    by_attr: dict[int, object] = {}
    for k in todo:
        a = configs[k].attr_seed
        if a not in by_attr:
            by_attr[a] = build_statics(config.static, store, dim=config.dim, attr_seed=a)
    return {k: by_attr[configs[k].attr_seed] for k in todo}


def _training_samples(config: TrainConfig, store: Any, env: JobEnv) -> tuple[Any, np.ndarray]:
    """The sampler and its training samples: at least one per rank, and per rank and step."""
    from rvhpc.data.sampler import WindowSampler

    sampler = WindowSampler(store, seq_length=config.seq_length)
    samples = sampler.train_samples()
    if len(samples) < env.world:
        raise DataError(
            f"{config.store}: no training samples with observed discharge in the training period"
        )
    if config.samples_per_epoch is not None:
        if config.samples_per_epoch < env.world:
            raise ConfigError(
                f"samples_per_epoch {config.samples_per_epoch} is below the {env.world} ranks: "
                "each rank needs at least one sample per step"
            )
        if env.is_main:
            progress.log(epoch_size_line(config.samples_per_epoch, len(samples)))
    return sampler, samples


def _check_eval_windows(config: TrainConfig, store: Any) -> None:
    """The evaluation needs its warm-up inside the data, and so does the validation period's:
    found out now, not after training."""
    from rvhpc.data.sampler import WindowSampler
    from rvhpc.data.store import open_store

    WindowSampler(
        open_store(config.store, period="eval", warmup=config.seq_length - 1),
        seq_length=config.seq_length,
    ).eval_days()
    if config.val_period is not None:
        WindowSampler(validation.val_view(config, store), config.seq_length).eval_days()
