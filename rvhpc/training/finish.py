"""The end of a run: predict the evaluation period (and the validation period, when the run has
one) member by member, write predictions, metrics and ``DONE`` (rank 0; ``DONE`` last in each
member's folder, with the predictions' checksums). Under early stopping a member is evaluated
with its best validation epoch's weights."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rvhpc import progress
from rvhpc.atomic import write_json
from rvhpc.data.statics import UNSEEN_STATIC
from rvhpc.evaluation.predict import results_frames, write_results
from rvhpc.runfiles import EARLY_STOPPING_JSON, write_done
from rvhpc.training.distributed import any_rank, barrier, predict_store
from rvhpc.training.validation import best_model, write_validation


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


def evaluate_members(
    configs, rds, pack, x_s, env, device, stop, trained, validation=(None, None)
) -> list[TrainOutcome]:
    """Predict the evaluation period (and the validation period: ``validation`` is the
    (Validator, stopping states) of the run, or (None, None)) member by member; write
    predictions, metrics and DONE (rank 0), DONE last in each member's folder."""
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
    validator, states = validation
    states = states or [None] * len(rds)
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
        val = None if validator is None else validator.predict(model, k, lambda: bool(stop))
        if env.is_main and (pred is None or (validator is not None and val is None)):
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
