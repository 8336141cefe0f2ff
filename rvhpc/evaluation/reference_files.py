"""The files of a run directory of the original code, each read and checked: ``cfg.json`` (its
argparse flags and numbers: the architecture, static kind, d and training period it names),
``model_epoch<N>.pt`` (the weights of an epoch) and ``attributes.db`` (the static table the run
trained on). :mod:`rvhpc.evaluation.reference` rebuilds the run's inputs from them.

Every problem is one ConfigError line starting ``--reference-run DIR:``
(:func:`refusal`), naming the file and what is missing; nothing is guessed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd

from rvhpc.errors import ConfigError, excerpt
from rvhpc.evaluation.sqlite_table import read_plain_table

CFG_JSON = "cfg.json"
ATTRIBUTES_DB = "attributes.db"
TABLE = "basin_attributes"
WEIGHTS = re.compile(r"^model_epoch(\d+)\.pt$")
#: cfg.json keys that decide the architecture and static kind (the original's argparse flags)
FLAG_KEYS = ("concat_static", "no_static", "with_embeddings", "FM_LSTM", "mixed", "one_hot")
NUMBER_KEYS = ("rand_feat_num", "seq_length", "train_start", "train_end")
#: the largest cfg.json read (the original writes about 1 KB)
MAX_CFG_BYTES = 1 << 20


def refusal(path: Path, what: str) -> ConfigError:
    """The one error line of a reference run: ``--reference-run PATH: WHAT``.

    Parameters
    ----------
    path : Path
        The run directory.
    what : str
        The file or key, and what is wrong with it.

    Returns
    -------
    ConfigError
    """
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
            raise refusal(path, f"{CFG_JSON} is larger than {MAX_CFG_BYTES // 1024} KB")
        cfg = json.loads(raw)
    except FileNotFoundError:
        raise refusal(path, f"no {CFG_JSON} (the original's main.py writes one per run)") from None
    except (OSError, ValueError, RecursionError) as exc:
        reason = " ".join(str(exc).split())[:120] or "nested too deep"
        raise refusal(path, f"{CFG_JSON} is not readable JSON ({reason})") from None
    if not isinstance(cfg, dict):
        raise refusal(path, f"{CFG_JSON} is not a JSON object")
    missing = [k for k in (*FLAG_KEYS, *NUMBER_KEYS) if k not in cfg]
    if missing:
        raise refusal(
            path,
            f"{CFG_JSON} lacks {', '.join(missing)}: rvhpc cannot tell the run's architecture, "
            "static vectors or periods without them (is this a run of Li et al.'s main.py?)",
        )
    odd = [k for k in FLAG_KEYS if not isinstance(cfg[k], bool)]  # argparse store_true flags
    if odd:
        raise refusal(path, f"{CFG_JSON}: {odd[0]} is {excerpt(cfg[odd[0]])}, not true or false")
    return cfg


def arch_and_static(path: Path, cfg: dict[str, Any]) -> tuple[str, str, int | None]:
    """(arch, static kind, d) from the flags, with the original's precedence (its ``Model`` and
    ``add_camels_attributes``).

    Parameters
    ----------
    path : Path
        The run directory (for the error line).
    cfg : dict
        :func:`read_cfg`'s.

    Returns
    -------
    (str, str, int or None)
        The architecture, the static kind, and d for gaussian and mixed vectors.

    Raises
    ------
    ConfigError
        ``rand_feat_num`` that is not a positive integer.
    """
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
            raise refusal(path, f"{CFG_JSON}: rand_feat_num {excerpt(d)} is not a positive integer")
        return arch, ("mixed" if cfg["mixed"] else "gaussian"), d
    return arch, ("one_hot" if cfg["one_hot"] else "physics"), None


def train_period(path: Path, cfg: dict[str, Any]) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The training period cfg.json names (``train_start``/``train_end``, DDMMYYYY).

    Parameters
    ----------
    path, cfg
        As :func:`arch_and_static`.

    Returns
    -------
    (Timestamp, Timestamp)
        First and last day.

    Raises
    ------
    ConfigError
        Not dates in the original's form.
    """
    try:
        return tuple(
            pd.to_datetime(str(cfg[k]), format="%d%m%Y") for k in ("train_start", "train_end")
        )
    except ValueError:
        raise refusal(
            path,
            f"{CFG_JSON}: train_start/train_end {excerpt(cfg['train_start'])}/"
            f"{excerpt(cfg['train_end'])} "
            "are not dates in the original's DDMMYYYY form",
        ) from None


def find_weights(path: Path, epoch: int | None) -> tuple[Path, int]:
    """model_epoch<N>.pt of ``epoch``, or of the highest N when ``epoch`` is None.

    Parameters
    ----------
    path : Path
        The run directory.
    epoch : int, optional
        The epoch N (default: the highest there).

    Returns
    -------
    (Path, int)
        The weights file and its epoch.

    Raises
    ------
    ConfigError
        No weights file, or none of that epoch (the epochs there are named).
    """
    found = {
        int(m.group(1)): p for p in path.glob("model_epoch*.pt") if (m := WEIGHTS.match(p.name))
    }
    if not found:
        raise refusal(path, "no model_epoch<N>.pt (the original saves one per epoch)")
    if epoch is None:
        epoch = max(found)
    if epoch not in found:
        raise refusal(
            path, f"no model_epoch{epoch}.pt; epochs there: {', '.join(map(str, sorted(found)))}"
        )
    return found[epoch], epoch


def read_table(path: Path) -> pd.DataFrame:
    """The ``basin_attributes`` table of the attributes.db in run directory ``path``.

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
        raise refusal(
            path, f"no {ATTRIBUTES_DB}: the static vectors the run trained on are only there"
        )
    frame = read_plain_table(db, TABLE, f"--reference-run {path}: {ATTRIBUTES_DB}")
    if "gauge_id" not in frame.columns:
        raise refusal(path, f"{ATTRIBUTES_DB}: table {TABLE} has no gauge_id column")
    frame["gauge_id"] = frame["gauge_id"].astype(str)
    return frame.set_index("gauge_id")
