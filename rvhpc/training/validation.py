"""The validation period of a run (``val_period``): scored besides the evaluation period at the
end (``val_predictions.parquet``, ``val_metrics.csv``) and, with ``early_stopping``, after every
epoch, to keep the best epoch's weights and stop after ``patience`` epochs without a better one.

The validation period is what chooses (sweep points, search trials, the early-stopping epoch),
so it lies outside the training and evaluation periods: the evaluation (test) years never
influence a choice. It is scored exactly like the evaluation period: the same basins (a PUB
fold's held-out basins too), the training view's scalers, every day predicted.

The score of an epoch is the median NSE over basins of that member alone. The stopping state is
saved in every checkpoint, so a resumed run continues the same patience count; an epoch whose
validation a signal interrupted is validated first when the run resumes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from rvhpc import progress
from rvhpc.atomic import atomic_path, write_json
from rvhpc.errors import DataError
from rvhpc.evaluation.predict import results_frames
from rvhpc.periods import check_apart
from rvhpc.runfiles import EARLY_STOPPING_JSON, VAL_METRICS_CSV, VAL_PREDICTIONS
from rvhpc.training.distributed import all_gather_objects, predict_store


def check_period(config: Any, store: Any) -> None:
    """DataError when the run's validation period shares days with the store's training or
    evaluation period (the stored days are checked when the period is loaded)."""
    if config.val_period is None:
        return
    periods = {
        name: tuple(str(d.date()) for d in period)
        for name, period in (("training", store.train_period), ("evaluation", store.eval_period))
    }
    try:
        check_apart(config.val_period, periods)
    except ValueError as exc:
        raise DataError(f"{config.store}: {exc}") from None


def check_stored_days(store: Path, period: tuple[str, str]) -> None:
    """DataError when ``period`` is not inside the days a store holds (``data prepare``)."""
    from rvhpc.data.store import open_store

    open_store(store, period=tuple(pd.Timestamp(d) for d in period))


def val_view(config: Any, train_store: Any) -> Any:
    """The validation period's view of the store: the basins the run predicts, the training
    view's scalers, ``eval_period`` set to the validation period (what the sampler predicts)."""
    from rvhpc.data.scalers import use_output_stats
    from rvhpc.data.select import eval_view
    from rvhpc.data.store import open_store

    start, end = (pd.Timestamp(d) for d in config.val_period)
    store = open_store(config.store, period=(start, end), warmup=config.seq_length - 1)
    view = replace(eval_view(store, config, train_store), eval_period=(start, end))
    return use_output_stats(view, (train_store.y_mean, train_store.y_std))


class Validator:
    """Predicts and scores members of a pack on the validation period (its sampler and static
    vectors prepared once, for every epoch)."""

    def __init__(self, configs, trained, x_s, env, device) -> None:
        from rvhpc.data.sampler import WindowSampler
        from rvhpc.data.select import eval_statics

        train_store, statics = trained
        config = configs[0]
        self.store = val_view(config, train_store)
        self.sampler = WindowSampler(self.store, seq_length=config.seq_length)
        self.sampler.eval_days()  # the warm-up must lie inside the data: say so now
        self.x_s = list(x_s)
        if config.eval_basins is not None:
            for k, (cfg, st) in enumerate(zip(configs, statics, strict=True)):
                values = eval_statics(cfg, st.values, train_store, self.store)
                self.x_s[k] = None if values is None else torch.from_numpy(values).to(device)
        self.env, self.device, self.log_every = env, device, config.log_every

    def predict(self, model, k: int, stop=None) -> np.ndarray | None:
        """Standardised validation predictions of member ``k`` (rank 0; None elsewhere or when
        ``stop()`` interrupted a single process)."""
        return predict_store(
            model,
            self.sampler,
            self.x_s[k],
            len(self.store.basins),
            self.device,
            self.env,
            log_every=self.log_every,
            stop=stop,
        )

    def frames(self, pred: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
        return results_frames(self.store, self.sampler, pred)

    def median_nse(self, model, k: int, stop=None) -> float | None:
        """Member ``k``'s median NSE over basins on every rank; None when a signal stopped it."""
        pred = self.predict(model, k, stop)
        value: float | None = None
        if self.env.is_main and pred is not None:
            nse = self.frames(pred)[1]["NSE"]
            value = float(np.nanmedian(nse)) if nse.notna().any() else float("nan")
        values = all_gather_objects((pred is not None or not self.env.is_main, value))
        if not values[0][0]:
            return None
        return values[0][1]


def write_validation(run_dir: Path, predictions: pd.DataFrame, metrics: pd.DataFrame) -> None:
    """val_predictions.parquet and val_metrics.csv, each atomically (before DONE)."""
    with atomic_path(Path(run_dir) / VAL_PREDICTIONS) as tmp:
        predictions.to_parquet(tmp, index=False)
    with atomic_path(Path(run_dir) / VAL_METRICS_CSV) as tmp:
        metrics.to_csv(tmp, index=False, float_format="%.6g")


@dataclass
class Stopping:
    """Early stopping of one member: the best epoch so far and how many epochs since."""

    patience: int
    best_epoch: int = 0
    best_nse: float = -math.inf
    bad_epochs: int = 0
    scored: int = 0  # the last epoch whose validation score is in
    stopped: bool = False
    history: dict[int, float] = field(default_factory=dict)

    def update(self, epoch: int, nse: float) -> None:
        """Count one epoch's score: strictly better (and finite) resets the count."""
        self.history[epoch] = nse
        self.scored = epoch
        if math.isfinite(nse) and nse > self.best_nse:
            self.best_epoch, self.best_nse, self.bad_epochs = epoch, nse, 0
        else:
            self.bad_epochs += 1
        self.stopped = self.bad_epochs >= self.patience

    def to_dict(self) -> dict[str, Any]:
        return {
            "patience": self.patience,
            "best_epoch": self.best_epoch,
            "best_nse": self.best_nse,
            "bad_epochs": self.bad_epochs,
            "scored": self.scored,
            "stopped": self.stopped,
            "history": {int(k): float(v) for k, v in self.history.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Stopping:
        return cls(**{**data, "history": {int(k): float(v) for k, v in data["history"].items()}})

    def record(self, epochs: int) -> dict[str, Any]:
        """What early_stopping.json says (JSON: NaN and -inf written as null)."""

        def num(x: float) -> float | None:
            return x if math.isfinite(x) else None

        return {
            "metric": "median NSE over basins, validation period, this seed alone",
            "patience": self.patience,
            "chosen_epoch": self.best_epoch or None,
            "chosen_val_nse": num(self.best_nse),
            "stopped_after_epoch": self.scored if self.stopped else None,
            "epochs": epochs,
            "history": [{"epoch": e, "val_nse": num(v)} for e, v in sorted(self.history.items())],
        }


def stopping_states(configs, resumes) -> list[Stopping | None]:
    """Each member's stopping state: from its checkpoint when resuming, else fresh; None for a
    run without early stopping."""
    out: list[Stopping | None] = []
    for config, resume in zip(configs, resumes, strict=True):
        if config.early_stopping is None:
            out.append(None)
        elif resume is not None and resume.early_stopping:
            out.append(Stopping.from_dict(resume.early_stopping))
        else:
            out.append(Stopping(config.early_stopping.patience))
    return out


def score_epoch(validator, pack, states, epoch: int, rds, env, stop) -> bool:
    """Score ``epoch`` for every member still going; write early_stopping.json (rank 0). False
    when a signal interrupted the validation (the states are then left as they were)."""
    new = []
    for k, state in enumerate(states):
        if state is None or state.stopped or state.scored >= epoch:
            new.append(None)
            continue
        nse = validator.median_nse(pack.member(k), k, stop=lambda: bool(stop))
        if nse is None:
            return False
        new.append(nse)
    for k, (state, nse) in enumerate(zip(states, new, strict=True)):
        if nse is None:
            continue
        state.update(epoch, nse)
        if env.is_main:
            write_json(rds[k].path / EARLY_STOPPING_JSON, state.record(epoch))
            what = f"stopping: best epoch {state.best_epoch}" if state.stopped else ""
            progress.log(f"{rds[k].path}: epoch {epoch} validation median NSE {nse:.4f} {what}")
    return True


def best_model(pack, k: int, state: Stopping | None, rd) -> Any:
    """Member ``k`` as an ordinary model: its best epoch's weights under early stopping (read
    back from that epoch's checkpoint), else the weights it ended with."""
    from rvhpc.models.registry import build_model
    from rvhpc.training import checkpoint as ckpt_io

    if state is None or not state.best_epoch:
        return pack.member(k)
    model = build_model(**pack.config)
    model.load_state_dict(ckpt_io.load_epoch(rd.checkpoints, state.best_epoch).model)
    return model.to(next(pack.parameters()).device)
