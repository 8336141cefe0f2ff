"""Evaluation on its own: re-score a run from one of its checkpoints (``rvhpc evaluate RUN_DIR``),
or score a model trained by the original code (``rvhpc evaluate --reference-weights``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from rvhpc.atomic import write_json
from rvhpc.errors import RunDirError
from rvhpc.evaluation.predict import score_model
from rvhpc.jobenv import JobEnv, resolve_device
from rvhpc.runfiles import CONFIG_JSON, EVALUATION_JSON, STATICS_NPZ
from rvhpc.training import checkpoint as ckpt_io
from rvhpc.training.config import TrainConfig
from rvhpc.training.rundir import RunDir
from rvhpc.training.runstatics import read_statics


def _scenario_inputs(
    config: TrainConfig, store: Any, basins: list[str], statics: np.ndarray | None
) -> tuple[Any, np.ndarray | None]:
    """A scenario cell's eval view (its basins, the training basins' scalers) and the static
    vectors of the basins it predicts (held-out basins: rebuilt as in training)."""
    from rvhpc.data.scalers import output_stats, use_output_stats
    from rvhpc.data.select import eval_statics, eval_view, training_view, without_series
    from rvhpc.data.store import open_store

    train = training_view(open_store(config.store, period="train", warmup=0), config)
    use_output_stats(train, output_stats(train, config.output_stats))  # as train_cell does
    if list(train.basins) != basins:
        raise RunDirError("statics.npz lists other basins than the cell's training basins")
    train = without_series(train)
    view = eval_view(store, config, train)
    return view, eval_statics(config, statics, train, view)


def evaluate_run(
    run_dir: Path, epoch: int | None = None, out: Path | None = None, device: str = "auto"
) -> Path:
    """Score the checkpoint of ``epoch`` (default: the last) of a run into ``out``.

    ``out`` defaults to ``RUN_DIR/evaluation/epoch_NNN``; the run's own results are not touched.
    """
    from rvhpc.data.scalers import output_stats, use_output_stats
    from rvhpc.data.store import open_store
    from rvhpc.training.factory import model_for

    rd = RunDir(run_dir)
    record = rd.read_config()
    if record is None:
        raise RunDirError(f"{rd.path} holds no {CONFIG_JSON}: not an rvhpc run directory")
    fields = {k: v for k, v in record.items() if k in TrainConfig.model_fields}
    config = TrainConfig.create(**{**fields, "device": device})
    ckpt = ckpt_io.load_epoch(rd.checkpoints, epoch)
    basins, values = read_statics(rd.statics_npz)
    store = open_store(config.store, period="eval", warmup=config.seq_length - 1)
    if config.output_stats != "observed":  # computed over the training period, as in training
        use_output_stats(
            store, output_stats(open_store(config.store, period="train"), config.output_stats)
        )
    if record.get("store_fingerprint") not in (None, store.fingerprint):
        raise RunDirError(
            f"{config.store} changed since {rd.path} was trained (store fingerprint differs): "
            "rebuild the original store or retrain"
        )
    statics = values if values.shape[1] > 0 else None
    if any(getattr(config, k) is not None for k in ("basins", "eval_basins", "train_period")):
        store, statics = _scenario_inputs(config, store, basins, statics)
    if list(store.basins) != basins and config.eval_basins is None:
        raise RunDirError(f"{rd.path}/{STATICS_NPZ} lists other basins than {config.store}")
    torch.manual_seed(config.seed)
    model = model_for(
        store,
        config.arch,
        0 if statics is None else statics.shape[1],
        hidden=config.hidden,
        dropout=config.dropout,
        initial_forget_bias=config.initial_forget_bias,
    )
    model.load_state_dict(ckpt.model)
    target = Path(out) if out is not None else rd.path / "evaluation" / f"epoch_{ckpt.epoch:03d}"
    score_model(model, store, config.seq_length, statics, resolve_device(device, JobEnv()), target)
    write_json(
        target / EVALUATION_JSON,
        {
            "run_dir": str(rd.path),
            "epoch": ckpt.epoch,
            "store": str(config.store),
            "output_scaler": {
                "kind": config.output_stats,
                "mean": float(store.y_mean),
                "std": float(store.y_std),
            },
        },
    )
    return target
