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
from rvhpc.training.footprint import check_memory
from rvhpc.training.rundir import RunDir


def score_model(
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
    score_model(model, store, config.seq_length, statics, resolve_device(device, DistEnv()), target)
    write_json(
        target / "evaluation.json",
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


#: static kinds whose vectors rvhpc rebuilds exactly without the run's attributes.db, given the
#: run's basin list in its order (and, for gaussian, its attri_rand_seed)
REBUILDABLE = ("gaussian", "one_hot", "none")


def evaluate_reference(
    weights: Path,
    store_path: Path,
    arch: str,
    static: str,
    out: Path,
    dim: int | None = None,
    attr_seed: int | None = None,
    seq_length: int = 270,
    device: str = "auto",
) -> dict:
    """Score a state dict saved by the original code on a store, rebuilding its static vectors.

    Only kinds rvhpc rebuilds exactly are accepted (:data:`REBUILDABLE`): physics and mixed vectors
    hold the descriptors in the order the original's file system listed them, recorded only in the
    run's ``attributes.db`` (use ``--reference-run``). Inputs and outputs are scaled with the
    original's scalers (:func:`rvhpc.training.reference_run.original_scalers`). Returns the record
    written to ``out/evaluation.json``.
    """
    from rvhpc.data.statics import build_statics
    from rvhpc.data.store import open_store
    from rvhpc.models import load_reference_file
    from rvhpc.training.reference_run import original_scalers, score_with_scalers

    check_cell(arch, static, dim)
    if static not in REBUILDABLE:
        raise ConfigError(
            f"--reference-weights with static {static!r}: the original's descriptor columns come "
            "in the order its file system listed camels_*.txt, recorded only in the run's "
            "attributes.db; use --reference-run RUN_DIR (the original run directory) instead"
        )
    if static == "gaussian" and attr_seed is None:
        raise ConfigError(
            "--reference-weights with static 'gaussian' needs --attr-seed: the run's "
            "attri_rand_seed (in its cfg.json); or use --reference-run RUN_DIR"
        )
    if seq_length < 1:
        raise ConfigError(f"--seq-length must be >= 1, got {seq_length}")
    model = load_reference_file(weights, arch)
    scalers = original_scalers(store_path, None, f"--reference-weights {weights}")
    scalers.pop("basins")
    whole = open_store(store_path)
    check_memory(static, dim, len(whole.basins), hidden=0)  # the vectors; the model exists
    statics = build_statics(static, whole, dim=dim, attr_seed=attr_seed or 0)
    n_static = getattr(model, "n_static", statics.dim)
    if n_static != statics.dim:
        raise ConfigError(
            f"{weights}: the model takes {n_static} static inputs but static {static!r}"
            f"{f' --dim {dim}' if dim else ''} gives {statics.dim} on {store_path}"
        )
    median = score_with_scalers(model, store_path, seq_length, statics.values, scalers, device, out)
    record = {
        "reference_weights": str(weights),
        "store": str(store_path),
        "arch": arch,
        "static": static,
        "dim": dim,
        "attr_seed": attr_seed,
        "seq_length": seq_length,
        "input_scaler": scalers["input"],
        "output_scaler": scalers["output"],
        "scaler_period": scalers["period"],
        "notes": [
            "static vectors rebuilt for the store's basins in the store's order: exact only when "
            "the store was prepared from the run's basin list"
        ],
        "median_nse": median,
    }
    write_json(Path(out) / "evaluation.json", record)
    return record
