"""Train and evaluate grid cells: :func:`train_pack` trains K members (seeds of one experiment)
as one batched model, each into its own run directory; :func:`train_cell` is a pack of one, the
library function behind ``rvhpc train`` and the array tasks' ``rvhpc cell``.

Order of work: validate everything (config, store, statics) before anything is written; refuse a
run dir that holds another config; resume from the newest checkpoint; train epoch by epoch (a
checkpoint after each); evaluate; write ``DONE`` last. Only rank 0 writes.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from rvhpc import progress
from rvhpc.atomic import write_json
from rvhpc.data.footprint import check_memory
from rvhpc.data.statics import UNSEEN_STATIC
from rvhpc.errors import ConfigError, DataError, RunDirError
from rvhpc.evaluation.predict import results_frames, write_results
from rvhpc.jobenv import JobEnv, resolve_device, thread_count
from rvhpc.runfiles import EXIT_REQUEUE, write_done
from rvhpc.training import checkpoint as ckpt_io
from rvhpc.training.config import TrainConfig
from rvhpc.training.distributed import (
    ProcessGroup,
    all_gather_objects,
    any_rank,
    barrier,
    predict_store,
)
from rvhpc.training.loop import EpochRunner, StopFlag, check_batch_size, mix_seed
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
def deterministic(
    device: torch.device, threads: int | None, precision: str = "fp32"
) -> Iterator[None]:
    """Deterministic kernels on the CPU (bit-identical reruns), the requested thread count, and
    the matmul precision: fp32 is strict (TF32 off for matmuls and cuDNN, whatever torch's
    defaults), tf32 allows TF32 tensor cores on the GPU (no effect on the CPU)."""
    old_det = torch.are_deterministic_algorithms_enabled()
    old_threads = torch.get_num_threads()
    old_tf32 = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
    torch.backends.cudnn.allow_tf32 = precision == "tf32"
    if threads is not None:
        torch.set_num_threads(threads)
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(old_det)
        torch.set_num_threads(old_threads)
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old_tf32


def train_cell(config: TrainConfig, run_dir: Path, force: bool = False) -> TrainOutcome:
    """Train one cell into ``run_dir`` (resuming when it holds checkpoints), then evaluate it: a
    pack of one member (:func:`train_pack`).

    Raises
    ------
    RvhpcError
        Bad options, a missing or incompatible store, or a run dir holding another run; raised
        before anything is written.
    """
    return train_pack([config], [run_dir], force=force)[0]


def train_pack(
    configs: list[TrainConfig], run_dirs: list[Path], force: bool = False
) -> list[TrainOutcome]:
    """Train K members together (one batched model), each into its own run directory, exactly as
    :func:`train_cell` would train each alone; members already DONE are skipped.

    Parameters
    ----------
    configs : list[TrainConfig]
        One config per member; they may differ only in ``seed`` and ``attr_seed``.
    run_dirs : list[Path]
        One output folder per member (distinct).
    force : bool
        Delete the members' earlier files and start over.

    Returns
    -------
    list[TrainOutcome]
        One per member, in order.

    Raises
    ------
    RvhpcError
        Members that differ in more than seed/attr_seed, bad options, a missing or incompatible
        store, or a run dir holding another run; raised before anything is written.
    """
    from rvhpc.data.sampler import WindowSampler
    from rvhpc.data.scalers import output_stats, use_output_stats
    from rvhpc.data.select import training_view, without_series
    from rvhpc.data.statics import build_statics
    from rvhpc.data.store import open_store

    check_pack(configs, run_dirs)
    config = configs[0]
    rds = [RunDir(d) for d in run_dirs]
    env = JobEnv.from_environ()
    check_batch_size(config.batch_size, env)
    device = resolve_device(config.device, env)
    outcomes: list[TrainOutcome | None] = [None] * len(configs)
    for k, (cfg, rd) in enumerate(zip(configs, rds, strict=True)):
        old = None if force else rd.read_config()
        identity = cfg.identity()
        if (
            old is not None
            and all(old.get(a) == v for a, v in identity.items())
            and rd.is_done(verify=True)
        ):
            outcomes[k] = TrainOutcome("skipped", rd.path, epochs_done=cfg.epochs, rank=env.rank)
    todo = [k for k, o in enumerate(outcomes) if o is None]
    if not todo:
        return outcomes  # type: ignore[return-value]
    for k in todo:
        RunLock(rds[k].path).check_free()  # another trainer in this folder: say who, first
        if not force:
            rds[k].check_own()
    store = open_store(config.store, period="train", warmup=config.seq_length - 1)
    check_memory(config.static, config.dim, len(store.basins), config.hidden)  # before allocating
    fingerprint = store.fingerprint  # hash of the store's inputs, written by prepare_store
    if not force:
        for k in todo:
            rds[k].check_same(configs[k].identity(), fingerprint)
    store = training_view(store, config)  # a scenario's basins and period, with their scalers
    use_output_stats(store, output_stats(store, config.output_stats))
    by_attr: dict[int, object] = {}
    for k in todo:
        a = configs[k].attr_seed
        if a not in by_attr:
            by_attr[a] = build_statics(config.static, store, dim=config.dim, attr_seed=a)
    statics = {k: by_attr[configs[k].attr_seed] for k in todo}
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

        # process-wide; a training process is exactly the entry point it is meant for
        tune_cpu_allocator()
    threads = thread_count(config.threads)
    with (
        deterministic(device, threads, config.precision),
        ProcessGroup(env, device) as group,
        ExitStack() as locks,
    ):
        for k in todo:
            locks.enter_context(_locked(rds[k], env))
        models = {}
        for k in todo:
            torch.manual_seed(configs[k].seed)
            models[k] = _build(configs[k], statics[k].dim)  # the same weights on every rank
        x_s = {
            k: None
            if statics[k].values is None
            else torch.from_numpy(np.asarray(statics[k].values, np.float32)).to(device)
            for k in todo
        }
        if env.is_main:
            if env.distributed:
                progress.log(
                    f"DDP: {env.world} ranks, {group.backend} via {group.init_method}, "
                    f"{config.batch_size // env.world} samples per rank and step"
                )
            for k in todo:
                _prepare_dir(configs[k], rds[k], statics[k], fingerprint, force)
        barrier()
        resumes = {k: ckpt_io.latest(rds[k].checkpoints) for k in todo}
        bare = without_series(store)  # what the evaluation needs of the training view
        with StopFlag() as stop:
            for members in _groups(todo, resumes):
                done = _train_group(
                    [configs[k] for k in members],
                    [rds[k] for k in members],
                    [models[k] for k in members],
                    [x_s[k] for k in members],
                    [resumes[k] for k in members],
                    (bare, [statics[k] for k in members]),
                    sampler,
                    samples,
                    stop,
                    env,
                    device,
                )
                for k, outcome in zip(members, done, strict=True):
                    outcomes[k] = outcome
                if any(o.status == "preempted" for o in done):
                    break
            for k in todo:  # members of groups not reached
                if outcomes[k] is None:
                    outcomes[k] = TrainOutcome(
                        "preempted", rds[k].path, signal=stop.signum, rank=env.rank
                    )
    return outcomes  # type: ignore[return-value]


def check_pack(configs: list[TrainConfig], run_dirs: list[Path]) -> None:
    """Members share everything but seed and attr_seed, and write to distinct folders."""
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


def _prepare_dir(config, rd: RunDir, statics, fingerprint: str, force: bool) -> None:
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


def _position(resume: ckpt_io.Checkpoint | None) -> tuple[int, int]:
    if resume is None:
        return (0, -1)
    return (resume.epoch, resume.batches_done)


def _groups(todo: list[int], resumes: dict) -> list[list[int]]:
    """Members that resume at the same position train together (all of them, normally)."""
    groups: dict[tuple[int, int], list[int]] = {}
    for k in todo:
        groups.setdefault(_position(resumes[k]), []).append(k)
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


def _train_group(configs, rds, models, x_s, resumes, trained, sampler, samples, stop, env, device):
    """Train one group of members in lockstep, then evaluate each; their TrainOutcomes.

    ``trained`` is (training view of the store without its series, the members' static vectors):
    a scenario cell predicts its own basins (or its held-out basins) with the training scalers."""
    from rvhpc.models.packed import PackedModel, stack_optimizer_states

    config = configs[0]
    for model, resume in zip(models, resumes, strict=True):
        if resume is not None:
            model.load_state_dict(resume.model)
    pack = PackedModel(models).to(device)
    optimizer = torch.optim.Adam(pack.parameters(), lr=config.lr)
    if resumes[0] is not None:
        optimizer.load_state_dict(stack_optimizer_states([r.optimizer for r in resumes]))
    net = (
        DistributedDataParallel(pack, device_ids=[device.index] if device.type == "cuda" else None)
        if env.distributed
        else pack
    )
    statics = None if x_s[0] is None else torch.stack(x_s)
    runner = EpochRunner(
        net,
        optimizer,
        sampler,
        samples,
        statics,
        batch_size=config.batch_size,
        seeds=[c.seed for c in configs],
        clip_norm=config.clip_norm,
        dropout=config.dropout,
        hidden=config.hidden,
        device=device,
        env=env,
        log_every=config.log_every,
    )
    stopped = _train_epochs(configs, rds, runner, pack, optimizer, resumes, stop, env)
    if stopped is not None:
        return [
            TrainOutcome(
                "preempted", rd.path, epochs_done=stopped, signal=stop.signum, rank=env.rank
            )
            for rd in rds
        ]
    return _evaluate(configs, rds, pack, x_s, env, device, stop, trained)


def _train_epochs(configs, rds, runner, pack, optimizer, resumes, stop, env) -> int | None:
    """Run the remaining epochs; the epochs done when stopped by a signal, None when all are."""
    from rvhpc.models.packed import member_optimizer_state

    config, first_resume = configs[0], resumes[0]
    first, start_batch, seconds = 1, 0, 0.0
    loss_sums = [0.0] * len(configs)
    if first_resume is not None:
        if first_resume.complete:
            first = first_resume.epoch + 1
        else:
            first, start_batch = first_resume.epoch, first_resume.batches_done
            seconds = first_resume.seconds
            loss_sums = [float(r.loss_sum) for r in resumes]
            for k, r in enumerate(resumes):
                states = r.torch_rng
                if len(states) == env.world and isinstance(states[env.rank], torch.Tensor):
                    runner.generators[k].set_state(states[env.rank])
                else:  # another world size (or an older format): order kept, new dropout masks
                    runner.generators[k].manual_seed(
                        mix_seed(configs[k].seed, r.epoch, r.batches_done, env.rank)
                    )
            ckpt_io.restore_host_rng(first_resume.numpy_rng, first_resume.python_rng)
        if env.is_main and first <= config.epochs:
            for rd in rds:
                progress.log(
                    f"resuming {rd.path} at epoch {first}"
                    + (f", batch {start_batch}" if start_batch else "")
                )
    for epoch in range(first, config.epochs + 1):
        lr = config.lr_for_epoch(epoch)
        for group in optimizer.param_groups:
            group["lr"] = lr
        result = runner.run(
            epoch,
            config.epochs,
            stop,
            start_batch=start_batch,
            loss_sums=loss_sums,
            seconds=seconds,
        )
        start_batch, seconds, loss_sums = 0, 0.0, [0.0] * len(configs)
        gen_states = all_gather_objects([g.get_state().cpu() for g in runner.generators])
        numpy_rng, python_rng = ckpt_io.capture_host_rng()
        for k, rd in enumerate(rds):
            state = ckpt_io.Checkpoint(
                epoch=epoch,
                batches_done=-1 if result.completed else result.batches_done,
                model=pack.member_state(k),
                optimizer=member_optimizer_state(optimizer, pack, k),
                torch_rng=[per_rank[k] for per_rank in gen_states],
                numpy_rng=numpy_rng,
                python_rng=python_rng,
                loss_sum=result.loss_sums[k],
                seconds=result.seconds,
            )
            if env.is_main:
                if result.completed:  # the loss row first: a kill between the two redoes it
                    rd.append_loss(epoch, result.mean_loss(k), lr, result.seconds)
                ckpt_io.save(rd.checkpoints, state)
                if result.completed:
                    where = f"{rd.path}: " if len(rds) > 1 else ""
                    progress.log(
                        f"{where}epoch {epoch}/{config.epochs}: train loss "
                        f"{result.mean_loss(k):.5f} ({result.seconds:.1f} s)"
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
            return epoch - 1
    return None


def _evaluate(configs, rds, pack, x_s, env, device, stop, trained) -> list[TrainOutcome]:
    """Predict the evaluation period member by member; write predictions, metrics and DONE
    (rank 0), DONE last in each member's folder."""
    from rvhpc.data.sampler import WindowSampler
    from rvhpc.data.scalers import use_output_stats
    from rvhpc.data.select import eval_statics, eval_view
    from rvhpc.data.store import open_store

    config = configs[0]
    store = open_store(config.store, period="eval", warmup=config.seq_length - 1)
    train_store, statics = trained
    store = eval_view(store, config, train_store)
    # the training view's output scaler (rvhpc's, or the original's with output_stats)
    use_output_stats(store, (train_store.y_mean, train_store.y_std))
    x_s = list(x_s)
    if config.eval_basins is not None:
        for k, (cfg, st) in enumerate(zip(configs, statics, strict=True)):
            values = eval_statics(cfg, st.values, train_store, store)
            x_s[k] = None if values is None else torch.from_numpy(values).to(device)
        if env.is_main:
            progress.log(
                f"predicting {len(store.basins)} held-out basin(s) the model never saw; "
                f"their static vectors: {UNSEEN_STATIC[config.static]}"
            )
    del train_store, statics, trained
    sampler = WindowSampler(store, seq_length=config.seq_length)
    outcomes = []
    for k, rd in enumerate(rds):
        if any_rank(bool(stop), device):
            outcomes += [
                TrainOutcome(
                    "preempted",
                    r.path,
                    epochs_done=config.epochs,
                    signal=stop.signum,
                    rank=env.rank,
                )
                for r in rds[k:]
            ]
            return outcomes
        model = pack.member(k)
        pred = predict_store(
            model,
            sampler,
            x_s[k],
            len(store.basins),
            device,
            env,
            log_every=config.log_every,
            stop=lambda: bool(stop),
        )
        if env.is_main and pred is None:
            outcomes += [
                TrainOutcome(
                    "preempted",
                    r.path,
                    epochs_done=config.epochs,
                    signal=stop.signum,
                    rank=env.rank,
                )
                for r in rds[k:]
            ]
            return outcomes
        median = None
        if env.is_main:
            predictions, metrics = results_frames(store, sampler, pred)
            write_results(rd.path, predictions, metrics)
            nse = metrics["NSE"]
            median = float(np.nanmedian(nse)) if nse.notna().any() else float("nan")
            write_done(rd.path, median_nse=median)  # after the predictions, with their checksum
            progress.log(f"{rd.path}: done, median NSE {median:.4f} over {len(metrics)} basins")
        barrier()
        outcomes.append(
            TrainOutcome(
                "done", rd.path, epochs_done=config.epochs, median_nse=median, rank=env.rank
            )
        )
    return outcomes
