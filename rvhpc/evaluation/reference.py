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

Anything that cannot be rebuilt exactly is refused with one line naming what is missing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rvhpc.config_io import SEED_LIMIT
from rvhpc.errors import ConfigError, excerpt
from rvhpc.evaluation.sqlite_table import read_plain_table

CFG_JSON = "cfg.json"
ATTRIBUTES_DB = "attributes.db"
TABLE = "basin_attributes"
WEIGHTS = re.compile(r"^model_epoch(\d+)\.pt$")
#: columns the original's load_attributes drops (papercode/datautils.py INVALID_ATTR, lat/lon)
INVALID_ATTR = (
    "gauge_name", "area_geospa_fabric", "geol_1st_class", "glim_1st_class_frac", "geol_2nd_class",
    "glim_2nd_class_frac", "dom_land_cover_frac", "dom_land_cover", "high_prec_timing",
    "low_prec_timing", "huc", "q_mean", "runoff_ratio", "stream_elas", "slope_fdc",
    "baseflow_index", "hfd_mean", "q5", "q95", "high_q_freq", "high_q_dur", "low_q_freq",
    "low_q_dur", "zero_q_freq", "geol_porostiy", "root_depth_50", "root_depth_99", "organic_frac",
    "water_frac", "other_frac", "gauge_lat", "gauge_lon",
)  # fmt: skip
#: cfg.json keys that decide the architecture and static kind (the original's argparse flags)
FLAG_KEYS = ("concat_static", "no_static", "with_embeddings", "FM_LSTM", "mixed", "one_hot")
NUMBER_KEYS = ("rand_feat_num", "seq_length", "train_start", "train_end")
#: the largest cfg.json read (the original writes about 1 KB)
MAX_CFG_BYTES = 1 << 20


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


def _fail(path: Path, what: str) -> ConfigError:
    return ConfigError(f"--reference-run {path}: {what}")


def read_cfg(path: Path) -> dict[str, Any]:
    """cfg.json of an original run, with the keys rvhpc needs.

    Parameters
    ----------
    path : Path
        The run directory.

    Returns
    -------
    dict
        The JSON object; its FLAG_KEYS are JSON booleans.

    Raises
    ------
    ConfigError
        No cfg.json, too big, not JSON, a key missing (named, never guessed), or a flag that is
        not true/false (the string "false" would count as true).
    """
    file = path / CFG_JSON
    try:
        with file.open("rb") as handle:
            raw = handle.read(MAX_CFG_BYTES + 1)
        if len(raw) > MAX_CFG_BYTES:
            raise _fail(path, f"{CFG_JSON} is larger than {MAX_CFG_BYTES // 1024} KB")
        cfg = json.loads(raw)
    except FileNotFoundError:
        raise _fail(path, f"no {CFG_JSON} (the original's main.py writes one per run)") from None
    except (OSError, ValueError, RecursionError) as exc:
        reason = " ".join(str(exc).split())[:120] or "nested too deep"
        raise _fail(path, f"{CFG_JSON} is not readable JSON ({reason})") from None
    if not isinstance(cfg, dict):
        raise _fail(path, f"{CFG_JSON} is not a JSON object")
    missing = [k for k in (*FLAG_KEYS, *NUMBER_KEYS) if k not in cfg]
    if missing:
        raise _fail(
            path,
            f"{CFG_JSON} lacks {', '.join(missing)}: rvhpc cannot tell the run's architecture, "
            "static vectors or periods without them (is this a run of Li et al.'s main.py?)",
        )
    odd = [k for k in FLAG_KEYS if not isinstance(cfg[k], bool)]  # argparse store_true flags
    if odd:
        raise _fail(path, f"{CFG_JSON}: {odd[0]} is {excerpt(cfg[odd[0]])}, not true or false")
    return cfg


def arch_and_static(path: Path, cfg: dict[str, Any]) -> tuple[str, str, int | None]:
    """(arch, static kind, d) from the flags, with the original's precedence (its ``Model`` and
    ``add_camels_attributes``)."""
    if cfg["concat_static"] or cfg["no_static"]:
        arch = "lstm" if cfg["no_static"] else "ct"
    elif cfg["with_embeddings"]:
        arch = "sr"
    elif cfg["FM_LSTM"]:
        arch = "fm"
    else:
        arch = "ea"
    d = cfg["rand_feat_num"]
    if arch == "lstm":
        return arch, "none", None
    if d is not None:
        if isinstance(d, bool) or not isinstance(d, int) or d < 1:
            raise _fail(path, f"{CFG_JSON}: rand_feat_num {excerpt(d)} is not a positive integer")
        return arch, ("mixed" if cfg["mixed"] else "gaussian"), d
    return arch, ("one_hot" if cfg["one_hot"] else "physics"), None


def _period(path: Path, cfg: dict[str, Any]) -> tuple[pd.Timestamp, pd.Timestamp]:
    try:
        return tuple(
            pd.to_datetime(str(cfg[k]), format="%d%m%Y") for k in ("train_start", "train_end")
        )
    except ValueError:
        raise _fail(
            path,
            f"{CFG_JSON}: train_start/train_end {excerpt(cfg['train_start'])}/"
            f"{excerpt(cfg['train_end'])} "
            "are not dates in the original's DDMMYYYY form",
        ) from None


def find_weights(path: Path, epoch: int | None) -> tuple[Path, int]:
    """model_epoch<N>.pt of ``epoch``, or of the highest N when ``epoch`` is None."""
    found = {
        int(m.group(1)): p for p in path.glob("model_epoch*.pt") if (m := WEIGHTS.match(p.name))
    }
    if not found:
        raise _fail(path, "no model_epoch<N>.pt (the original saves one per epoch)")
    if epoch is None:
        epoch = max(found)
    if epoch not in found:
        raise _fail(
            path, f"no model_epoch{epoch}.pt; epochs there: {', '.join(map(str, sorted(found)))}"
        )
    return found[epoch], epoch


def read_table(path: Path) -> pd.DataFrame:
    """The ``basin_attributes`` table of a run's attributes.db.

    Parameters
    ----------
    path : Path
        The run directory.

    Returns
    -------
    DataFrame
        Indexed by gauge id (text), in the file's row and column order.

    Raises
    ------
    ConfigError
        No attributes.db, no plain table, a read over the limits of sqlite_table, no gauge_id.
    """
    db = path / ATTRIBUTES_DB
    if not db.is_file():
        raise _fail(
            path, f"no {ATTRIBUTES_DB}: the static vectors the run trained on are only there"
        )
    frame = read_plain_table(db, TABLE, f"--reference-run {path}: {ATTRIBUTES_DB}")
    if "gauge_id" not in frame.columns:
        raise _fail(path, f"{ATTRIBUTES_DB}: table {TABLE} has no gauge_id column")
    frame["gauge_id"] = frame["gauge_id"].astype(str)
    return frame.set_index("gauge_id")


def static_input(path: Path, table: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The original's ``load_attributes`` + ``CamelsH5._load_attributes``: drop lat/lon and
    INVALID_ATTR, standardise (pandas, zero std -> 1) unless every row sums to 1 (one-hot)."""
    notes: list[str] = []
    df = table.drop(columns=[c for c in table.columns if c in INVALID_ATTR])
    odd = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])]
    if odd:
        raise _fail(
            path,
            f"{ATTRIBUTES_DB}: column {odd[0]!r} is not numeric; "
            "the original could not have trained on it",
        )
    df = df.astype(np.float64)
    if df.isna().to_numpy().any():
        col = df.columns[df.isna().any()][0]
        basin = df.index[df[col].isna()][0]
        raise _fail(
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

    Raises
    ------
    ConfigError
        One line naming the file or key that is missing or cannot be used exactly.
    """
    path = Path(path)
    if not path.is_dir():
        raise _fail(path, "not a directory")
    cfg = read_cfg(path)
    arch, static, dim = arch_and_static(path, cfg)
    seq_length, period = cfg["seq_length"], _period(path, cfg)
    days = (period[1] - period[0]).days + 1
    if type(seq_length) is not int or not 1 <= seq_length <= days:
        raise _fail(
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
        raise _fail(run.path, f"{ATTRIBUTES_DB} holds {width} static columns but {CFG_JSON} "
                    f"says rand_feat_num {run.dim} ({run.static})")  # fmt: skip
    if run.static == "one_hot" and not any(n.startswith("one-hot") for n in run.notes):
        raise _fail(
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
