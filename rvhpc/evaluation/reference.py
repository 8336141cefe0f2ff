"""Score a run directory of the original code exactly (``rvhpc evaluate --reference-run DIR``).

The original's ``main.py`` (Li et al., on Kratzert's EA-LSTM code) writes per run: ``cfg.json``
(its arguments and fixed settings), ``attributes.db`` (SQLite, table ``basin_attributes``, index
``gauge_id``: the static table the run trained on) and ``model_epoch<N>.pt`` (the state dict of the
DataParallel-wrapped model). Rebuilt here exactly as the original did:

- static input: the table of ``attributes.db`` in its own row and column order (the physical
  descriptors come in the order the file system listed ``camels_*.txt``, which rvhpc cannot know
  otherwise), less ``gauge_lat``/``gauge_lon`` and the original's ``INVALID_ATTR`` columns
  (``load_attributes``), standardised with pandas mean/std (ddof=1, a zero std becomes 1:
  ``CamelsH5._load_attributes``; rvhpc.data.statics.column_stats, the one standardisation), except
  a one-hot table (every row sums to 1), used as is;
- input and output scalers: the original's ``calculate_mean_and_std`` over the store's training
  period (:mod:`rvhpc.data.scalers`); the original kept them in its code folder
  (``data/SCALER.p``), not in the run, so they are recomputed, and the store must hold the run's
  basins and training period.

Anything that cannot be rebuilt exactly is refused with one line naming what is missing. The
files themselves are read and checked by :mod:`rvhpc.evaluation.reference_files`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rvhpc.config_io import SEED_LIMIT
from rvhpc.errors import excerpt
from rvhpc.evaluation.reference_files import (
    ATTRIBUTES_DB,
    CFG_JSON,
    arch_and_static,
    find_weights,
    read_cfg,
    read_table,
    refusal,
    train_period,
)

#: columns the original's load_attributes drops (papercode/datautils.py INVALID_ATTR, lat/lon)
INVALID_ATTR = (
    "gauge_name", "area_geospa_fabric", "geol_1st_class", "glim_1st_class_frac", "geol_2nd_class",
    "glim_2nd_class_frac", "dom_land_cover_frac", "dom_land_cover", "high_prec_timing",
    "low_prec_timing", "huc", "q_mean", "runoff_ratio", "stream_elas", "slope_fdc",
    "baseflow_index", "hfd_mean", "q5", "q95", "high_q_freq", "high_q_dur", "low_q_freq",
    "low_q_dur", "zero_q_freq", "geol_porostiy", "root_depth_50", "root_depth_99", "organic_frac",
    "water_frac", "other_frac", "gauge_lat", "gauge_lon",
)  # fmt: skip


@dataclass
class ReferenceRun:
    """What an original run directory says, read and checked."""

    path: Path
    cfg: dict[str, Any]
    arch: str
    static: str
    dim: int | None
    attr_seed: int | None
    seq_length: int
    train_period: tuple[pd.Timestamp, pd.Timestamp]
    weights: Path
    epoch: int
    table: pd.DataFrame | None  # the static input, standardised as the original did (None: none)
    notes: list[str] = field(default_factory=list)


def static_input(path: Path, table: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The original's ``load_attributes`` + ``CamelsH5._load_attributes``: drop lat/lon and
    INVALID_ATTR, standardise (pandas, zero std -> 1) unless every row sums to 1 (one-hot).

    Parameters
    ----------
    path : Path
        The run directory (for the error line).
    table : DataFrame
        :func:`rvhpc.evaluation.reference_files.read_table`'s.

    Returns
    -------
    (DataFrame, list of str)
        The static input, and notes on what was done (one-hot used as is, zero stds taken as 1).

    Raises
    ------
    ConfigError
        A column that is not numeric, or a missing value.
    """
    notes: list[str] = []
    df = table.drop(columns=[c for c in table.columns if c in INVALID_ATTR])
    odd = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])]
    if odd:
        raise refusal(
            path,
            f"{ATTRIBUTES_DB}: column {odd[0]!r} is not numeric; "
            "the original could not have trained on it",
        )
    df = df.astype(np.float64)
    if df.isna().to_numpy().any():
        col = df.columns[df.isna().any()][0]
        basin = df.index[df[col].isna()][0]
        raise refusal(
            path,
            f"{ATTRIBUTES_DB}: {col!r} is missing for basin {basin}; the original fed NaN "
            "there, which rvhpc does not reproduce",
        )
    if int((df.sum(axis=1) == 1).sum()) == len(df):
        return df, ["one-hot table (every row sums to 1): used as is, as the original did"]
    from rvhpc.data.statics import column_stats, standardise

    stats = column_stats(df.to_numpy(np.float64))
    zero = [str(c) for c, s in zip(df.columns, df.std(), strict=True) if s == 0.0]
    if zero:
        notes.append(
            f"zero std in {', '.join(zero)}: taken as 1, as the original's training did (its own "
            "evaluation divided by zero there)"
        )
    values = standardise(df.to_numpy(np.float64), stats)
    return pd.DataFrame(values, index=df.index, columns=df.columns), notes


def read_reference_run(path: Path, epoch: int | None = None) -> ReferenceRun:
    """Read and check an original run directory.

    Parameters
    ----------
    path : Path
        The run directory of the original's ``main.py``.
    epoch : int, optional
        The epoch whose weights to score (default: the highest there).

    Returns
    -------
    ReferenceRun

    Raises
    ------
    ConfigError
        One line naming the file or key that is missing or cannot be used exactly.
    """
    path = Path(path)
    if not path.is_dir():
        raise refusal(path, "not a directory")
    cfg = read_cfg(path)
    arch, static, dim = arch_and_static(path, cfg)
    seq_length, period = cfg["seq_length"], train_period(path, cfg)
    days = (period[1] - period[0]).days + 1
    if type(seq_length) is not int or not 1 <= seq_length <= days:
        raise refusal(
            path,
            f"{CFG_JSON}: seq_length {excerpt(seq_length)} is not a whole number of days from 1 "
            f"to the {days} days of its training period",
        )
    weights, epoch = find_weights(path, epoch)
    attr_seed = cfg.get("attri_rand_seed") if static in ("gaussian", "mixed") else None
    run = ReferenceRun(path, cfg, arch, static, dim, attr_seed, seq_length, period,
                       weights, epoch, None)  # fmt: skip
    if static == "none":
        return run
    run.table, run.notes = static_input(path, read_table(path))
    _check_kind(run)
    return run


def _check_kind(run: ReferenceRun) -> None:
    """The table's width fits the kind cfg.json names; a random draw is compared with rvhpc's."""
    from rvhpc.data.statics import gaussian_draw

    width = run.table.shape[1]
    if run.static in ("gaussian", "mixed") and width != run.dim:
        raise refusal(run.path, f"{ATTRIBUTES_DB} holds {width} static columns but {CFG_JSON} "
                      f"says rand_feat_num {run.dim} ({run.static})")  # fmt: skip
    if run.static == "one_hot" and not any(n.startswith("one-hot") for n in run.notes):
        raise refusal(
            run.path, f"{CFG_JSON} says one_hot but the rows of {ATTRIBUTES_DB} are not one-hot"
        )
    if run.static not in ("gaussian", "mixed"):
        return
    from rvhpc.data.camels import DESCRIPTORS  # the original's mixed vectors: CAMELS US's 27

    n_random = run.dim - (len(DESCRIPTORS) if run.static == "mixed" else 0)
    seed = run.attr_seed
    if not (type(seed) is int and 0 <= seed < SEED_LIMIT and n_random >= 1):
        run.notes.append(
            f"attri_rand_seed {excerpt(seed)} in {CFG_JSON}: the random columns are known only "
            f"from {ATTRIBUTES_DB} (used as they are)"
        )
    else:
        raw = read_table(run.path).drop(columns=[c for c in INVALID_ATTR], errors="ignore")
        draw = gaussian_draw(len(raw), n_random, run.attr_seed)
        same = np.array_equal(raw.iloc[:, width - n_random :].to_numpy(np.float64), draw)
        run.notes.append(
            f"random columns {'equal' if same else 'differ from'} rvhpc's draw with attr_seed "
            f"{run.attr_seed} (attri_rand_seed in {CFG_JSON})"
        )
