"""The end of a run: predict the evaluation period (and the validation period, when the run has
one) member by member, write predictions, metrics and ``DONE`` (rank 0; ``DONE`` last in each
member's folder, with the predictions' checksums). Under early stopping a member is evaluated
with its best validation epoch's weights.

A member whose predictions are not finite on a day whose input window is complete has diverged
(its weights overflowed, though its last loss was finite): it writes ``DIVERGED`` instead of
predictions and ``DONE``. NaN on a day with a gap in the inputs is the data's, and is kept."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rvhpc import progress
from rvhpc.atomic import write_json
from rvhpc.data.statics import UNSEEN_STATIC
from rvhpc.evaluation.predict import results_frames, write_results
from rvhpc.runfiles import EARLY_STOPPING_JSON
from rvhpc.runrecords import diverged_text, write_done
from rvhpc.training.distributed import all_gather_objects, any_rank, barrier, predict_store
from rvhpc.training.validation import best_model, write_validation


@dataclass
class TrainOutcome:
    """What :func:`train_cell` did.

    status is ``done`` (trained and evaluated now), ``skipped`` (the run dir already held DONE),
    ``diverged`` (a non-finite loss or prediction; ``DIVERGED`` written, no ``DONE``; ``detail``
    says where) or ``preempted`` (a signal arrived; a checkpoint was saved; rerun to resume).
    :func:`rvhpc.exitcodes.outcome_exit_code` maps a status to the process's exit status.
    """

    status: str
    run_dir: Path
    epochs_done: int = 0
    median_nse: float | None = None
    signal: int | None = None
    rank: int = 0
    detail: str = ""


def evaluate_members(
    configs, rds, pack, x_s, env, device, stop, trained, validation=(None, None), diverged=None
) -> list[TrainOutcome]:
    """Predict the evaluation and validation periods member by member; write predictions,
    metrics and DONE (rank 0), DONE last in each member's folder.

    Parameters
    ----------
    configs : list[TrainConfig]
    rds : list[RunDir]
    pack : PackedModel
    x_s : list[torch.Tensor or None]
        The members' static vectors (held-out basins get theirs here).
    env : JobEnv
    device : torch.device
    stop : StopFlag
    trained : (BasinStore, list)
        The training view without its series, and the members' static vectors.
    validation : tuple
        (Validator, early-stopping states) of a run with a validation period, else (None, None).
    diverged : dict, optional
        Member index -> its ``diverged`` outcome: not evaluated. A member whose predictions are
        not finite is added to it.

    Returns
    -------
    list[TrainOutcome]
        One per member: ``done``, ``diverged`` or ``preempted``.
    """
    from rvhpc.data.sampler import WindowSampler
    from rvhpc.data.scalers import use_output_stats
    from rvhpc.data.select import eval_statics, eval_view
    from rvhpc.data.store import open_store

    diverged = {} if diverged is None else diverged
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
    validator, states = validation
    states = states or [None] * len(rds)
    del train_store, statics, trained
    sampler = WindowSampler(store, seq_length=config.seq_length)
    outcomes = []

    def preempted(rest: int) -> list[TrainOutcome]:
        return [
            diverged.get(j)
            or TrainOutcome(
                "preempted",
                rds[j].path,
                epochs_done=config.epochs,
                signal=stop.signum,
                rank=env.rank,
            )  # fmt: skip
            for j in range(rest, len(rds))
        ]

    for k, rd in enumerate(rds):
        if k in diverged:
            outcomes.append(diverged[k])
            continue
        if any_rank(bool(stop), device):
            return outcomes + preempted(k)
        model = best_model(pack, k, states[k], rd)
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
            return outcomes + preempted(k)
        reason = all_gather_objects(_nonfinite(pred, sampler) if env.is_main else None)[0]
        if reason is not None:
            outcomes.append(_diverged(rd, config.epochs, reason, env))
            continue
        val = None if validator is None else validator.predict(model, k, lambda: bool(stop))
        if env.is_main and validator is not None and val is None:
            return outcomes + preempted(k)
        median = None
        if env.is_main:
            predictions, metrics = results_frames(store, sampler, pred)
            write_results(rd.path, predictions, metrics)
            extra = {}
            if val is not None:
                val_predictions, val_metrics = validator.frames(val)
                write_validation(rd.path, val_predictions, val_metrics)
                extra["val_median_nse"] = _median(val_metrics["NSE"])
            if states[k] is not None:
                write_json(rd.path / EARLY_STOPPING_JSON, states[k].record(config.epochs))
                extra["chosen_epoch"] = states[k].best_epoch
            median = _median(metrics["NSE"])
            # after the predictions, with their checksums
            write_done(rd.path, median_nse=median, **extra)
            progress.log(f"{rd.path}: done, median NSE {median:.4f} over {len(metrics)} basins")
        barrier()
        outcomes.append(
            TrainOutcome(
                "done", rd.path, epochs_done=config.epochs, median_nse=median, rank=env.rank
            )
        )
    return outcomes


def _median(nse) -> float:
    return float(np.nanmedian(nse)) if nse.notna().any() else float("nan")


def _nonfinite(pred: np.ndarray, sampler) -> str | None:
    """What is wrong with predictions that are not finite where the inputs are complete."""
    bad = ~np.isfinite(pred)
    if bad.any():  # the mask of complete windows only when there is something to excuse
        bad &= sampler.complete_windows(sampler.eval_days())
    if not bad.any():
        return None
    basins = int(bad.any(axis=1).sum())
    return f"non-finite predictions for {basins} of {len(pred)} basins"


def _diverged(rd, epoch: int, reason: str, env) -> TrainOutcome:
    """Write DIVERGED (rank 0) for a member whose predictions are not finite."""
    detail = diverged_text({"epoch": epoch, "reason": reason})
    if env.is_main:
        rd.write_diverged(epoch, reason)
        progress.log(f"{rd.path}: {detail}; no predictions, no DONE")
    barrier()
    return TrainOutcome("diverged", rd.path, epochs_done=epoch, rank=env.rank, detail=detail)
