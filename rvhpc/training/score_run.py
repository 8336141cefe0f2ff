"""Evaluation on its own: re-score a run from one of its checkpoints (``rvhpc evaluate RUN_DIR``),
or score a model trained by the original code (``rvhpc evaluate --reference-weights``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from rvhpc import progress
from rvhpc.atomic import write_json
from rvhpc.errors import ConfigError, RunDirError
from rvhpc.experiments import check_cell
from rvhpc.runfiles import CONFIG_JSON, STATICS_NPZ
from rvhpc.training import checkpoint as ckpt_io
from rvhpc.training.config import TrainConfig
from rvhpc.training.distributed import DistEnv, resolve_device
from rvhpc.training.evaluate import predict_store, results_frames, write_results
from rvhpc.training.rundir import RunDir


def _score(
    model: torch.nn.Module,
    store: Any,
    seq_length: int,
    statics: np.ndarray | None,
    device: torch.device,
    out: Path,
) -> float:
    from rvhpc.data.sampler import WindowSampler

    sampler = WindowSampler(store, seq_length=seq_length)
    x_s = None if statics is None else torch.from_numpy(np.asarray(statics, np.float32)).to(device)
    pred = predict_store(model.to(device), sampler, x_s, len(store.basins), device)
    predictions, metrics = results_frames(store, sampler, pred)
    write_results(out, predictions, metrics)
    median = float(np.nanmedian(metrics["NSE"])) if metrics["NSE"].notna().any() else float("nan")
    progress.log(f"{out}: median NSE {median:.4f} over {len(metrics)} basins")
    return median


def _scenario_inputs(
    config: TrainConfig, store: Any, basins: list[str], statics: np.ndarray | None
) -> tuple[Any, np.ndarray | None]:
    """A scenario cell's eval view (its basins, the training basins' scalers) and the static
    vectors of the basins it predicts (held-out basins: rebuilt as in training)."""
    from rvhpc.data.select import eval_statics, eval_view, training_view, without_series
    from rvhpc.data.store import open_store

    train = training_view(open_store(config.store, period="train", warmup=0), config)
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
    from rvhpc.data.store import open_store
    from rvhpc.models import build_model

    rd = RunDir(run_dir)
    record = rd.read_config()
    if record is None:
        raise RunDirError(f"{rd.path} holds no {CONFIG_JSON}: not an rvhpc run directory")
    fields = {k: v for k, v in record.items() if k in TrainConfig.model_fields}
    config = TrainConfig.create(**{**fields, "device": device})
    ckpt = ckpt_io.load_epoch(rd.checkpoints, epoch)
    basins, values = rd.read_statics()
    store = open_store(config.store, period="eval", warmup=config.seq_length - 1)
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
    model = build_model(
        config.arch,
        n_dynamic=5,
        n_static=0 if statics is None else statics.shape[1],
        hidden=config.hidden,
        dropout=config.dropout,
        initial_forget_bias=config.initial_forget_bias,
    )
    model.load_state_dict(ckpt.model)
    target = Path(out) if out is not None else rd.path / "evaluation" / f"epoch_{ckpt.epoch:03d}"
    _score(model, store, config.seq_length, statics, resolve_device(device, DistEnv()), target)
    write_json(
        target / "evaluation.json",
        {"run_dir": str(rd.path), "epoch": ckpt.epoch, "store": str(config.store)},
    )
    return target


def evaluate_reference(
    weights: Path,
    store_path: Path,
    arch: str,
    static: str,
    out: Path,
    dim: int | None = None,
    attr_seed: int = 0,
    seq_length: int = 270,
    device: str = "auto",
) -> Path:
    """Score a state dict saved by the original code on a store, with this project's static vectors."""
    from rvhpc.data.statics import build_statics
    from rvhpc.data.store import open_store
    from rvhpc.models import load_reference_file

    check_cell(arch, static, dim)
    if seq_length < 1:
        raise ConfigError(f"--seq-length must be >= 1, got {seq_length}")
    model = load_reference_file(weights, arch)
    dev = resolve_device(device, DistEnv())
    train_store = open_store(store_path, period="train", warmup=seq_length - 1)
    statics = build_statics(static, train_store, dim=dim, attr_seed=attr_seed)
    n_static = getattr(model, "n_static", statics.dim)
    if n_static != statics.dim:
        raise ConfigError(
            f"{weights}: the model takes {n_static} static inputs but static {static!r}"
            f"{f' --dim {dim}' if dim else ''} gives {statics.dim} on {store_path}"
        )
    del train_store
    store = open_store(store_path, period="eval", warmup=seq_length - 1)
    out = Path(out)
    median = _score(model, store, seq_length, statics.values, dev, out)
    write_json(
        out / "evaluation.json",
        {
            "reference_weights": str(weights),
            "store": str(store_path),
            "arch": arch,
            "static": static,
            "dim": dim,
            "attr_seed": attr_seed,
            "seq_length": seq_length,
            "median_nse": median,
        },
    )
    return out
