"""The epoch driver: a group of members trained in lockstep as one batched model, epoch by
epoch, with a checkpoint after each epoch (and mid-epoch when a signal arrives).

Divergence: after each epoch every member's mean training loss is checked on every rank (a NaN on
one rank reaches the others' weights only through the next all-reduce, so the ranks vote). A
member whose loss is not finite has *diverged*: it writes ``DIVERGED`` (the epoch, the loss) and
its loss row, and is neither checkpointed again nor evaluated; the other members of its pack train
on, and the group stops early once every member diverged. Its checkpoints of the epochs before are
kept (they show where it stood before the blow-up) but never resumed from: the same seeds would
diverge again, so a rerun reports the earlier divergence at once, and only other settings (a
stale cell, ``--rerun-stale``) or ``--force`` train it again.
"""

from __future__ import annotations

import math
import signal

import torch
from torch.nn.parallel import DistributedDataParallel

from rvhpc import progress
from rvhpc.exitcodes import EXIT_REQUEUE
from rvhpc.runrecords import diverged_text
from rvhpc.training import checkpoint as ckpt_io
from rvhpc.training.distributed import all_gather_objects, barrier
from rvhpc.training.finish import TrainOutcome, evaluate_members
from rvhpc.training.loop import EpochRunner
from rvhpc.training.optimizer import adam, load_state
from rvhpc.training.order import mix_seed
from rvhpc.training.validation import Validator, score_epoch, stopping_states


def train_group(configs, rds, models, x_s, resumes, trained, sampler, samples, stop, env, device):
    """Train one group of members in lockstep, then evaluate each; their TrainOutcomes.

    Parameters
    ----------
    configs : list[TrainConfig]
    rds : list[RunDir]
    models : list[nn.Module]
        One model per member, built with its seed.
    x_s : list[torch.Tensor or None]
        The members' static vectors on the device.
    resumes : list[Checkpoint or None]
        Where each member resumes (all at one position).
    trained : (BasinStore, list)
        The training view of the store without its series, and the members' static vectors: a
        scenario cell predicts its own basins (or its held-out basins) with the training scalers.
    sampler : WindowSampler
    samples : WindowIndex
        The training windows (``sampler.train_samples()``).
    stop : StopFlag
    env : JobEnv
    device : torch.device

    Returns
    -------
    list[TrainOutcome]
        One per member: ``done``, ``diverged`` (non-finite loss or predictions) or ``preempted``.
    """
    from rvhpc.models.packed import PackedModel, stack_optimizer_states

    config = configs[0]
    for model, resume in zip(models, resumes, strict=True):
        if resume is not None:
            model.load_state_dict(resume.model)
    pack = PackedModel(models).to(device)
    optimizer = adam(pack.parameters(), config.lr, config.numerics, device)
    if resumes[0] is not None:
        load_state(optimizer, stack_optimizer_states([r.optimizer for r in resumes]))
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
        samples_per_epoch=config.samples_per_epoch,
    )
    stopping = stopping_states(configs, resumes)
    validator = None
    if config.val_period is not None:  # scored after every epoch (early stopping), and at the end
        validator = Validator(configs, trained, x_s, env, device)
    validation = (validator, stopping)
    diverged: dict[int, TrainOutcome] = {}
    stopped = _train_epochs(
        configs, rds, runner, pack, optimizer, resumes, stop, env, validation, diverged
    )
    if stopped is not None:
        return [
            diverged.get(k)
            or TrainOutcome(
                "preempted", rd.path, epochs_done=stopped, signal=stop.signum, rank=env.rank
            )
            for k, rd in enumerate(rds)
        ]
    return evaluate_members(
        configs, rds, pack, x_s, env, device, stop, trained, validation, diverged
    )


def _train_epochs(
    configs, rds, runner, pack, optimizer, resumes, stop, env, validation, diverged
) -> int | None:
    """Run the remaining epochs (until every member stopped early, with early stopping); the
    epochs done when stopped by a signal, None when all are (or every member diverged). Members
    that diverge are added to ``diverged`` (index -> outcome)."""
    from rvhpc.models.packed import member_optimizer_state

    validator, stopping = validation
    early = any(s is not None for s in stopping)
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
        if early and first_resume.complete:  # a signal came during this epoch's validation
            if not score_epoch(validator, pack, stopping, first_resume.epoch, rds, env, stop):
                return first_resume.epoch
        if env.is_main and first <= config.epochs:
            for rd in rds:
                progress.log(
                    f"resuming {rd.path} at epoch {first}"
                    + (f", batch {start_batch}" if start_batch else "")
                )
    for epoch in range(first, config.epochs + 1):
        if early and all(s.stopped for s in stopping):
            break
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
        if result.completed:
            _check_finite(result, epoch, lr, rds, env, diverged)
        # early stopping scores the epoch before its checkpoint, which then holds the new count
        scored = not (early and result.completed) or score_epoch(
            validator, pack, stopping, epoch, rds, env, stop
        )
        gen_states = all_gather_objects([g.get_state().cpu() for g in runner.generators])
        numpy_rng, python_rng = ckpt_io.capture_host_rng()
        for k, rd in enumerate(rds):
            if k in diverged:  # NaN weights: nothing to resume from
                continue
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
                early_stopping=None if stopping[k] is None else stopping[k].to_dict(),
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
        if not scored:
            if env.is_main:
                progress.log(f"signal {stop.signum}: epoch {epoch} saved before its validation")
            return epoch
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
        if len(diverged) == len(rds):
            break
    return None


def _check_finite(result, epoch: int, lr: float, rds, env, diverged: dict) -> None:
    """Mark the members whose mean loss of ``epoch`` is not finite on any rank as diverged
    (DIVERGED and the loss row written by rank 0)."""
    bad = [not math.isfinite(result.mean_loss(k)) for k in range(len(rds))]
    votes = all_gather_objects(bad)  # every rank decides alike
    for k, rd in enumerate(rds):
        if k in diverged or not any(v[k] for v in votes):
            continue
        loss = result.mean_loss(k)
        reason = (
            f"training loss {loss:g}"
            if not math.isfinite(loss)
            else "training loss not finite on another rank"
        )
        diverged[k] = TrainOutcome(
            "diverged", rd.path, epochs_done=epoch - 1, rank=env.rank,
            detail=diverged_text({"epoch": epoch, "reason": reason}),
        )  # fmt: skip
        if env.is_main:
            rd.append_loss(epoch, loss, lr, result.seconds)
            rd.write_diverged(epoch, reason)
            progress.log(f"{rd.path}: {diverged[k].detail}; no DONE, no more checkpoints")
