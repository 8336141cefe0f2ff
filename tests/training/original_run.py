"""Hand-built run directories of the original code (Li et al.'s main.py on Kratzert's code):
``cfg.json``, ``attributes.db`` (SQLite table ``basin_attributes``) and ``model_epoch<N>.pt``,
written the way its ``_setup_run``, ``add_camels_attributes`` and ``train`` write them."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from rvhpc.data.camels import DESCRIPTORS
from rvhpc.models import build_model, to_reference


def original_table(
    camels_root: Path,
    basins: list[str],
    kind: str,
    d: int | None = None,
    attr_seed: int | None = None,
) -> pd.DataFrame:
    """``add_camels_attributes``: every camels_*.txt concatenated in the order the file system
    listed them (here: reverse alphabetical, unlike rvhpc's fixed order), huc_02 -> huc, rows in
    basin-list order; then random, mixed or one-hot columns as the original built them."""
    files = sorted(
        (Path(camels_root) / "camels_attributes_v2.0").glob("camels_*.txt"), reverse=True
    )
    df = None
    for f in files:
        t = pd.read_csv(f, sep=";", header=0, dtype={"gauge_id": str}).set_index("gauge_id")
        df = t if df is None else pd.concat([df, t], axis=1)
    df["huc"] = df["huc_02"].apply(lambda x: str(x).zfill(2))
    df = df.drop("huc_02", axis=1).loc[basins]
    n = len(basins)
    if kind in ("gaussian", "mixed"):
        np.random.seed(attr_seed)
        cols = d - 27 if kind == "mixed" else d
        random_df = pd.DataFrame(np.random.normal(0, 1, size=(n, cols)))
        random_df.index = df.index
        df = (
            df.merge(random_df, left_index=True, right_index=True) if kind == "mixed" else random_df
        )
    elif kind == "one_hot":
        df = pd.DataFrame(np.eye(n))
    df["gauge_id"] = basins
    return df.set_index("gauge_id")


def hand_static_input(table: pd.DataFrame, kind: str) -> pd.DataFrame:
    """The original's static input: the descriptor and random columns in the table's order,
    standardised with pandas (zero std -> 1), one-hot as is."""
    keep = [c for c in table.columns if c in DESCRIPTORS or str(c).isdigit()]
    df = table[keep].astype(float)
    if kind == "one_hot":
        return df
    std = df.std()
    std[std == 0.0] = 1
    return (df - df.mean()) / std


def original_cfg(kind: str, arch: str, d: int | None = None, attr_seed: int | None = None,
                 seq_length: int = 30) -> dict:  # fmt: skip
    """cfg.json as ``_setup_run`` dumps it (argparse values + GLOBAL_SETTINGS, dates DDMMYYYY)."""
    return {
        "mode": "train", "camels_root": "/data/CAMELS", "seed": 111, "run_dir": "/x/runs/tiny",
        "cluster": "tiny", "attri_rand_seed": attr_seed, "rand_feat_num": d,
        "cache_data": False, "num_workers": 12, "one_hot": kind == "one_hot",
        "with_embeddings": arch == "sr", "FM_LSTM": arch == "fm", "no_static": arch == "lstm",
        "mixed": kind == "mixed", "concat_static": arch == "ct", "use_mse": False,
        "batch_size": 256, "clip_norm": True, "clip_value": 1, "dropout": 0.4, "epochs": 2,
        "hidden_size": 8, "initial_forget_gate_bias": 5, "log_interval": 50,
        "learning_rate": 0.001, "seq_length": seq_length, "train_start": "01102000",
        "train_end": "30092002", "val_start": "01011999", "val_end": "30092002",
        "train_dir": "/x/runs/tiny/data/train", "val_dir": "/x/runs/tiny/data/val",
    }  # fmt: skip


def write_original_run(
    run_dir: Path, table: pd.DataFrame | None, cfg: dict, arch: str, n_static: int
) -> torch.nn.Module:
    """Write the three files; two epochs of weights (epoch 2 is the model returned)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "cfg.json").write_text(json.dumps(cfg, sort_keys=True, indent=4))
    if table is not None:
        with sqlite3.connect(run_dir / "attributes.db") as conn:
            table.to_sql("basin_attributes", conn)
    model = None
    for epoch in (1, 2):
        torch.manual_seed(epoch)
        model = build_model(arch, 5, n_static, hidden=8)
        with torch.no_grad():  # trained-looking weights: every input matters
            for param in model.parameters():
                param.add_(torch.randn_like(param) * 0.3)
        torch.save(to_reference(model, prefix="module."), run_dir / f"model_epoch{epoch}.pt")
    return model.eval()
