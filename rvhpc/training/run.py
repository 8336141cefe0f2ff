"""Train and evaluate grid cells: :func:`train_pack` trains K members (seeds of one experiment)
as one batched model, each into its own run directory; :func:`train_cell` is a pack of one, the
library function behind ``rvhpc train`` and the array tasks' ``rvhpc cell``.

Order of work: validate everything (config, store, statics) before anything is written, and
refuse a run dir that holds another config (:mod:`rvhpc.training.preflight`); resume from the
newest checkpoint; train epoch by epoch (a checkpoint after each); evaluate; write ``DONE`` last.
Only rank 0 writes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

import numpy as np
import torch

from rvhpc import kernels, numerics, progress
from rvhpc.atomic import write_json
from rvhpc.errors import RunDirError
from rvhpc.jobenv import JobEnv, resolve_device, thread_count
from rvhpc.runrecords import diverged_text
from rvhpc.training import checkpoint as ckpt_io
from rvhpc.training.config import TrainConfig
from rvhpc.training.distributed import (
    ProcessGroup,
    all_gather_objects,
    barrier,
)
from rvhpc.training.finish import TrainOutcome
from rvhpc.training.fit import train_group
from rvhpc.training.loop import StopFlag, check_batch_size
from rvhpc.training.preflight import PackInputs, check_pack, force_flags, load_inputs
from rvhpc.training.rundir import RunDir, config_record
from rvhpc.training.runlock import RunLock
from rvhpc.training.runstatics import check_statics, write_statics
from rvhpc.training.runtime import deterministic, tune_cpu_allocator


def train_cell(config: TrainConfig, run_dir: Path, force: bool = False) -> TrainOutcome:
    """Train one cell into ``run_dir`` (resuming when it holds checkpoints), then evaluate it: a
    pack of one member (:func:`train_pack`).

    Parameters
    ----------
    config : TrainConfig
    run_dir : Path
        The output folder.
    force : bool
        Delete the run's earlier files and start over.

    Returns
    -------
    TrainOutcome
        ``done``, ``skipped`` (DONE already), ``diverged`` or ``preempted``.

    Raises
    ------
    RvhpcError
        Bad options, a missing or incompatible store, or a run dir holding another run; raised
        before anything is written.
    """
    return train_pack([config], [run_dir], force=force)[0]


def train_pack(
    configs: list[TrainConfig], run_dirs: list[Path], force: bool | Sequence[bool] = False
) -> list[TrainOutcome]:
    """Train K members together (one batched model), each into its own run directory, exactly as
    :func:`train_cell` would train each alone; members already DONE are skipped, and so are
    members that diverged before with this config (the same seeds diverge again: a ``diverged``
    outcome at once, naming the earlier epoch).

    A member whose loss becomes non-finite stops being checkpointed and writes ``DIVERGED``
    instead of predictions and ``DONE`` (:mod:`rvhpc.training.fit`); the others train on.

    Parameters
    ----------
    configs : list[TrainConfig]
        One config per member; they may differ only in ``seed`` and ``attr_seed``.
    run_dirs : list[Path]
        One output folder per member (distinct).
    force : bool or list of bool
        Delete the members' earlier files and start over (one flag for all, or one per member:
        the grid's ``--rerun-stale`` forces only its stale members).

    Returns
    -------
    list[TrainOutcome]
        One per member, in order: ``done``, ``skipped``, ``diverged`` or ``preempted``.

    Raises
    ------
    RvhpcError
        Members that differ in more than seed/attr_seed, bad options, a missing or incompatible
        store, or a run dir holding another run; raised before anything is written.
    """
    check_pack(configs, run_dirs)
    config = configs[0]
    numerics.ensure(config.numerics)  # before torch computes anything (its thread pool)
    rds = [RunDir(d) for d in run_dirs]
    forced = force_flags(force, len(configs))
    env = JobEnv.from_environ()
    check_batch_size(config.batch_size, env)
    device = resolve_device(config.device, env)
    outcomes: list[TrainOutcome | None] = [
        None if f else _finished(cfg, rd, env.rank)
        for cfg, rd, f in zip(configs, rds, forced, strict=True)
    ]
    todo = [k for k, o in enumerate(outcomes) if o is None]
    if not todo:
        return outcomes  # type: ignore[return-value]
    inputs = load_inputs(configs, rds, todo, forced, env)
    if device.type == "cpu":
        # process-wide; a training process is exactly the entry point it is meant for
        tune_cpu_allocator()
    threads = thread_count(config.threads)
    with (
        deterministic(device, threads, config.precision, config.numerics),
        ProcessGroup(env, device) as group,
        ExitStack() as locks,
    ):
        for k in todo:
            locks.enter_context(_locked(rds[k], env))
        models, x_s = _models(configs, todo, inputs, device)
        if env.is_main:
            if env.distributed:
                progress.log(
                    f"DDP: {env.world} ranks, {group.backend} via {group.init_method}, "
                    f"{config.batch_size // env.world} samples per rank and step"
                )
            for k in todo:
                _prepare_dir(configs[k], rds[k], inputs.statics[k], inputs.fingerprint, forced[k])
        barrier()
        resumes = {k: ckpt_io.latest(rds[k].checkpoints) for k in todo}
        _record_provenance(rds, resumes, env, kernels.record(device, config.numerics))
        _train_groups(configs, rds, models, x_s, resumes, inputs, env, device, outcomes)
    return outcomes  # type: ignore[return-value]


def _models(
    configs: list[TrainConfig], todo: list[int], inputs: PackInputs, device: torch.device
) -> tuple[dict[int, torch.nn.Module], dict[int, torch.Tensor | None]]:
    """Each member's model, built with its seed (the same weights on every rank), and its static
    vectors on the device."""
    models = {}
    for k in todo:
        torch.manual_seed(configs[k].seed)
        models[k] = _build(configs[k], inputs.store, inputs.statics[k].dim)
    x_s = {
        k: None
        if inputs.statics[k].values is None
        else torch.from_numpy(np.asarray(inputs.statics[k].values, np.float32)).to(device)
        for k in todo
    }
    return models, x_s


def _record_provenance(rds: list[RunDir], resumes: dict, env: JobEnv, record: dict) -> None:
    """What produced this session, every rank's (a DDP job may span unlike nodes), in each
    member's provenance.json from the epoch it resumes at."""
    produced = all_gather_objects(record)
    if env.is_main:
        for k, resume in resumes.items():
            rds[k].append_provenance(produced, from_epoch=_position(resume)[0])


def _train_groups(configs, rds, models, x_s, resumes, inputs, env, device, outcomes) -> None:
    """Train the groups of members that resume at one position, in order, into ``outcomes``
    (indexed by member); after a preempted group, the members of the groups not reached are
    preempted too. ``models``, ``x_s`` and ``resumes`` are keyed by the members with work to do."""
    from rvhpc.data.select import without_series

    bare = without_series(inputs.store)  # what the evaluation needs of the training view
    with StopFlag() as stop:
        for members in _groups(resumes):
            done = train_group(
                [configs[k] for k in members],
                [rds[k] for k in members],
                [models[k] for k in members],
                [x_s[k] for k in members],
                [resumes[k] for k in members],
                (bare, [inputs.statics[k] for k in members]),
                inputs.sampler,
                inputs.samples,
                stop,
                env,
                device,
            )
            for k, outcome in zip(members, done, strict=True):
                outcomes[k] = outcome
            if any(o.status == "preempted" for o in done):
                break
        for k in resumes:  # members of groups not reached
            if outcomes[k] is None:
                outcomes[k] = TrainOutcome(
                    "preempted", rds[k].path, signal=stop.signum, rank=env.rank
                )


def _finished(config: TrainConfig, rd: RunDir, rank: int) -> TrainOutcome | None:
    """``skipped`` for a member whose folder holds this run's DONE, ``diverged`` for one that
    diverged with this config before; None when it has work to do (or holds another run, which
    :meth:`RunDir.check_same` refuses)."""
    old = rd.read_config()
    if old is None or config.differences(old):
        return None
    record = rd.diverged()
    if record is not None:
        return TrainOutcome(
            "diverged", rd.path, epochs_done=int(record.get("epoch") or 0), rank=rank,
            detail=diverged_text(record),
        )  # fmt: skip
    if rd.is_done(verify=True):
        return TrainOutcome("skipped", rd.path, epochs_done=config.epochs, rank=rank)
    return None


def _prepare_dir(config, rd: RunDir, statics, fingerprint: str, force: bool) -> None:
    if force:
        rd.clear()
    rd.path.mkdir(parents=True, exist_ok=True)
    record = config_record(config.model_dump(mode="json"), fingerprint, config.experiment)
    if rd.read_config() is None or force:
        write_json(rd.config_json, record)
    if not rd.statics_npz.exists():
        write_statics(rd.statics_npz, statics)
    else:  # a garbled or foreign statics.npz is refused, never kept
        check_statics(rd.statics_npz, statics)


def _position(resume: ckpt_io.Checkpoint | None) -> tuple[int, int]:
    if resume is None:
        return (0, -1)
    return (resume.epoch, resume.batches_done)


def _groups(resumes: dict) -> list[list[int]]:
    """Members that resume at the same position train together (all of them, normally)."""
    groups: dict[tuple[int, int], list[int]] = {}
    for k, resume in resumes.items():
        groups.setdefault(_position(resume), []).append(k)
    return [groups[p] for p in sorted(groups)]


@contextmanager
def _locked(rd: RunDir, env: JobEnv) -> Iterator[None]:
    """Rank 0 holds the run directory's lock; every rank raises the same error when it is taken."""
    lock = RunLock(rd.path) if env.is_main else None
    problem = None
    if lock is not None:
        rd.path.mkdir(parents=True, exist_ok=True)
        try:
            lock.acquire()
        except RunDirError as exc:
            problem = str(exc)
    problems = all_gather_objects(problem)
    if problems[0] is not None:
        raise RunDirError(problems[0])
    try:
        yield
    finally:
        if lock is not None:
            lock.release()


def _build(config: TrainConfig, store, n_static: int) -> torch.nn.Module:
    from rvhpc.training.factory import model_for

    return model_for(
        store,
        config.arch,
        n_static,
        hidden=config.hidden,
        dropout=config.dropout,
        initial_forget_bias=config.initial_forget_bias,
    )
