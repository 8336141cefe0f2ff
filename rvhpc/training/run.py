"""Train and evaluate one grid cell: :func:`train_cell`, the library function behind ``rvhpc train``
and the array tasks' ``rvhpc cell``.

Order of work: validate everything (config, store, statics) before anything is written; refuse a
run dir that holds another config; resume from the newest checkpoint; train epoch by epoch (a
checkpoint after each); evaluate; write ``DONE`` last. Only rank 0 writes.
"""

from __future__ import annotations

import random
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from rvhpc import progress
from rvhpc.atomic import write_json
from rvhpc.errors import DataError, RunDirError
from rvhpc.runfiles import EXIT_REQUEUE, write_done
from rvhpc.scenarios import UNSEEN_STATIC
from rvhpc.training import checkpoint as ckpt_io
from rvhpc.training.config import TrainConfig
from rvhpc.training.distributed import (
    DistEnv,
    ProcessGroup,
    all_gather_objects,
    any_rank,
    barrier,
    resolve_device,
    thread_count,
)
from rvhpc.training.evaluate import predict_store, results_frames, write_results
from rvhpc.training.footprint import check_memory
from rvhpc.training.loop import (
    EpochRunner,
    StopFlag,
    check_batch_size,
    mix_seed,
    rng_state,
    set_rng_state,
)
from rvhpc.training.rundir import RunDir, config_record
from rvhpc.training.runlock import RunLock


@dataclass
class TrainOutcome:
    """What :func:`train_cell` did.

    status is ``done`` (trained and evaluated now), ``skipped`` (the run dir already held DONE) or
    ``preempted`` (a signal arrived; a checkpoint was saved; rerun to resume).
    """

    status: str
    run_dir: Path
    epochs_done: int = 0
    median_nse: float | None = None
    signal: int | None = None
    rank: int = 0


@contextmanager
def deterministic(device: torch.device, threads: int | None) -> Iterator[None]:
    """Deterministic kernels on the CPU (bit-identical reruns) and the requested thread count."""
    old_det = torch.are_deterministic_algorithms_enabled()
    old_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(old_det)
        torch.set_num_threads(old_threads)


def train_cell(config: TrainConfig, run_dir: Path, force: bool = False) -> TrainOutcome:
    """Train one cell into ``run_dir`` (resuming when it holds checkpoints), then evaluate it.

    Parameters
    ----------
    config : TrainConfig
        The validated training configuration.
    run_dir : Path
        Output folder; created when absent.
    force : bool
        Delete this run's earlier files (config, checkpoints, results, DONE) and start over.

    Raises
    ------
    RvhpcError
        Bad options, a missing or incompatible store, or a run dir holding another run; raised
        before anything is written.
    """
    from rvhpc.data.sampler import WindowSampler
    from rvhpc.data.scalers import output_stats, use_output_stats
    from rvhpc.data.select import training_view, without_series
    from rvhpc.data.statics import build_statics
    from rvhpc.data.store import open_store

    rd = RunDir(run_dir)
    env = DistEnv.from_environ()
    check_batch_size(config.batch_size, env)
    device = resolve_device(config.device, env)
    identity = config.identity()
    if not force:
        old = rd.read_config()
        if (
            old is not None
            and all(old.get(k) == v for k, v in identity.items())
            and rd.is_done(verify=True)
        ):
            return TrainOutcome("skipped", rd.path, epochs_done=config.epochs, rank=env.rank)
    RunLock(rd.path).check_free()  # another trainer in this folder: say who, before any work
    if not force:
        rd.check_own()
    store = open_store(config.store, period="train", warmup=config.seq_length - 1)
    check_memory(config.static, config.dim, len(store.basins), config.hidden)  # before allocating
    fingerprint = store.fingerprint  # hash of the store's inputs, written by prepare_store
    if not force:
        rd.check_same(identity, fingerprint)
    store = training_view(store, config)  # a scenario's basins and period, with their scalers
    use_output_stats(store, output_stats(store, config.output_stats))
    statics = build_statics(config.static, store, dim=config.dim, attr_seed=config.attr_seed)
    sampler = WindowSampler(store, seq_length=config.seq_length)
    samples = sampler.train_samples()
    if len(samples) < env.world:
        raise DataError(
            f"{config.store}: no training samples with observed discharge in the training period"
        )
    # the evaluation needs its warm-up inside the data: find out now, not after training
    WindowSampler(
        open_store(config.store, period="eval", warmup=config.seq_length - 1),
        seq_length=config.seq_length,
    ).eval_days()

    if device.type == "cpu":
        from rvhpc.training.allocator import tune_cpu_allocator

        tune_cpu_allocator()  # process-wide; a training process is exactly the entry point it is meant for
    with (
        deterministic(device, thread_count(config.threads)),
        ProcessGroup(env, device) as group,
        _locked(rd, env),
    ):
        torch.manual_seed(config.seed)
        model = _build(config, statics.dim).to(device)  # the same initial weights on every rank
        x_s = (
            None
            if statics.values is None
            else torch.from_numpy(np.asarray(statics.values, np.float32)).to(device)
        )
        if env.is_main:
            if env.distributed:
                progress.log(
                    f"DDP: {env.world} ranks, {group.backend} via {group.init_method}, "
                    f"{config.batch_size // env.world} samples per rank and step"
                )
            if force:
                rd.clear()
            rd.path.mkdir(parents=True, exist_ok=True)
            record = config_record(config.model_dump(mode="json"), fingerprint, config.experiment)
            if rd.read_config() is None or force:
                write_json(rd.config_json, record)
            if not rd.statics_npz.exists():
                rd.write_statics(statics)
            else:  # a garbled or foreign statics.npz is refused, never kept
                rd.check_statics(statics)
        barrier()
        resume = ckpt_io.latest(rd.checkpoints)
        optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
        if resume is not None:
            model.load_state_dict(resume.model)
            optimizer.load_state_dict(resume.optimizer)
        net = (
            DistributedDataParallel(
                model, device_ids=[device.index] if device.type == "cuda" else None
            )
            if env.distributed
            else model
        )
        runner = EpochRunner(
            net,
            optimizer,
            sampler,
            samples,
            x_s,
            batch_size=config.batch_size,
            seed=config.seed,
            clip_norm=config.clip_norm,
            device=device,
            env=env,
            log_every=config.log_every,
        )
        with StopFlag() as stop:
            outcome = _train_epochs(config, rd, runner, model, optimizer, resume, stop, env, device)
            if outcome is not None:
                return outcome
            trained = (without_series(store), statics)
            del store, sampler, samples, runner
            return _evaluate(config, rd, model, x_s, env, device, stop, trained)


@contextmanager
def _locked(rd: RunDir, env: DistEnv) -> Iterator[None]:
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


def _build(config: TrainConfig, n_static: int) -> torch.nn.Module:
    from rvhpc.models import build_model

    return build_model(
        config.arch,
        n_dynamic=5,
        n_static=n_static,
        hidden=config.hidden,
        dropout=config.dropout,
        initial_forget_bias=config.initial_forget_bias,
    )


def _train_epochs(
    config: TrainConfig,
    rd: RunDir,
    runner: EpochRunner,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    resume: ckpt_io.Checkpoint | None,
    stop: StopFlag,
    env: DistEnv,
    device: torch.device,
) -> TrainOutcome | None:
    """Run the remaining epochs; a TrainOutcome when stopped by a signal, None when all are done."""
    first, start_batch, loss_sum, seconds = 1, 0, 0.0, 0.0
    if resume is not None:
        if resume.complete:
            first = resume.epoch + 1
        else:
            first, start_batch, loss_sum, seconds = (
                resume.epoch,
                resume.batches_done,
                resume.loss_sum,
                resume.seconds,
            )
            states = resume.torch_rng
            if len(states) == env.world:
                set_rng_state(states[env.rank], device)
            else:  # resumed with another world size: the order is kept, dropout masks are new
                torch.manual_seed(
                    mix_seed(config.seed, resume.epoch, resume.batches_done, env.rank)
                )
            ckpt_io.restore_host_rng(resume.numpy_rng, resume.python_rng)
        if env.is_main and first <= config.epochs:
            progress.log(
                f"resuming {rd.path} at epoch {first}"
                + (f", batch {start_batch}" if start_batch else "")
            )
    for epoch in range(first, config.epochs + 1):
        lr = config.lr_for_epoch(epoch)
        for group in optimizer.param_groups:
            group["lr"] = lr
        result = runner.run(
            epoch, config.epochs, stop, start_batch=start_batch, loss_sum=loss_sum, seconds=seconds
        )
        start_batch, loss_sum, seconds = 0, 0.0, 0.0
        states = all_gather_objects(rng_state(device))
        state = ckpt_io.Checkpoint(
            epoch=epoch,
            batches_done=-1 if result.completed else result.batches_done,
            model=model.state_dict(),
            optimizer=optimizer.state_dict(),
            torch_rng=states,
            numpy_rng=np.random.get_state(),
            python_rng=random.getstate(),
            loss_sum=result.loss_sum,
            seconds=result.seconds,
        )
        if env.is_main:
            ckpt_io.save(rd.checkpoints, state)
            if result.completed:
                rd.append_loss(epoch, result.mean_loss, lr, result.seconds)
                progress.log(
                    f"epoch {epoch}/{config.epochs}: train loss {result.mean_loss:.5f} "
                    f"({result.seconds:.1f} s)"
                )
        barrier()
        if not result.completed:
            if env.is_main:
                then = (
                    "stopping"
                    if stop.signum == signal.SIGINT
                    else f"exit {EXIT_REQUEUE} to be requeued"
                )
                progress.log(
                    f"signal {stop.signum}: checkpointed epoch {epoch} at batch "
                    f"{result.batches_done}; {then}"
                )
            return TrainOutcome(
                "preempted", rd.path, epochs_done=epoch - 1, signal=stop.signum, rank=env.rank
            )
    return None


def _evaluate(
    config: TrainConfig,
    rd: RunDir,
    model: torch.nn.Module,
    x_s: torch.Tensor | None,
    env: DistEnv,
    device: torch.device,
    stop: StopFlag,
    trained: tuple | None = None,
) -> TrainOutcome:
    """Predict the evaluation period, write predictions, metrics and DONE (rank 0).

    ``trained`` is (training view of the store, its static vectors): a scenario cell predicts its
    own basins (or its held-out basins) with the training basins' scalers."""
    from rvhpc.data.sampler import WindowSampler
    from rvhpc.data.scalers import output_stats, use_output_stats
    from rvhpc.data.select import eval_statics, eval_view
    from rvhpc.data.store import open_store

    if any_rank(bool(stop), device):
        return TrainOutcome(
            "preempted", rd.path, epochs_done=config.epochs, signal=stop.signum, rank=env.rank
        )
    store = open_store(config.store, period="eval", warmup=config.seq_length - 1)
    if trained is not None:
        train_store, statics = trained
        store = eval_view(store, config, train_store)
        # the training view's output scaler (rvhpc's, or the original's with output_stats)
        use_output_stats(store, (train_store.y_mean, train_store.y_std))
        if config.eval_basins is not None:
            values = eval_statics(config, statics.values, train_store, store)
            x_s = None if values is None else torch.from_numpy(values).to(device)
            if env.is_main:
                progress.log(
                    f"predicting {len(store.basins)} held-out basin(s) the model never saw; "
                    f"their static vectors: {UNSEEN_STATIC[config.static]}"
                )
        del train_store, statics, trained
    elif config.output_stats != "observed":  # computed over the training period
        use_output_stats(
            store, output_stats(open_store(config.store, period="train"), config.output_stats)
        )
    sampler = WindowSampler(store, seq_length=config.seq_length)
    pred = predict_store(
        model,
        sampler,
        x_s,
        len(store.basins),
        device,
        env,
        log_every=config.log_every,
        stop=lambda: bool(stop),
    )
    if env.is_main and pred is None:
        return TrainOutcome(
            "preempted", rd.path, epochs_done=config.epochs, signal=stop.signum, rank=env.rank
        )
    median = None
    if env.is_main:
        predictions, metrics = results_frames(store, sampler, pred)
        write_results(rd.path, predictions, metrics)
        median = (
            float(np.nanmedian(metrics["NSE"])) if metrics["NSE"].notna().any() else float("nan")
        )
        write_done(rd.path, median_nse=median)  # after the predictions, with their checksum
        progress.log(f"{rd.path}: done, median NSE {median:.4f} over {len(metrics)} basins")
    barrier()
    return TrainOutcome(
        "done", rd.path, epochs_done=config.epochs, median_nse=median, rank=env.rank
    )
