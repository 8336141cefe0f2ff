"""The identity of a training run: which TrainConfig fields define its result, and how two
configs differ.

The identity is the cell id's input (:func:`rvhpc.grid.cells.cell_id` hashes it) and THE
comparison of "does this run directory hold this run": ``rvhpc train`` refuses a run dir on it
(:meth:`rvhpc.training.rundir.RunDir.check_same`), and the grid commands call a cell *stale* on it.
Fields are left out of it in three groups: runtime settings (how a run executes), labels (how it
is named or grouped) and optional fields at their defaults, so that the ids and run directories
of runs made before a field existed stay valid.
"""

from __future__ import annotations

from typing import Any

#: fields that change how a run executes, not what it is (its cell id); a resumed run may change
#: them. ``numerics`` and ``threads`` do change the last bits of a CPU run: each run directory's
#: provenance.json records them, and collect warns when the seeds of an experiment differ in them.
RUNTIME_FIELDS = ("device", "log_every", "threads", "numerics")
#: fields of basin-list, training-period and PUB scenarios (left out of the identity when None)
SCENARIO_FIELDS = ("basins", "eval_basins", "train_period")
#: fields left out of the identity when None, so that the ids of cells that do not use them stay
#: what they were before the fields existed
OPTIONAL_FIELDS = (*SCENARIO_FIELDS, "samples_per_epoch", "val_period", "early_stopping")

#: identity fields left out of the identity while they hold these values, so the ids and run
#: directories of runs made before the field existed stay valid; a recorded config that lacks one
#: of them had this value
IDENTITY_DEFAULTS: dict[str, Any] = {
    "precision": "fp32",
    "output_stats": "observed",
    **{key: None for key in OPTIONAL_FIELDS},
}
#: labels that name or group a run but do not change what it computes (never in the identity;
#: a sweep point's or trial's values are, as train settings)
LABEL_FIELDS = ("scenario", "paired_draw", "name", "point")


def identity_of(values: dict[str, Any]) -> dict[str, Any]:
    """The identity fields of a config's JSON values.

    The store's path is left out: its contents are compared by fingerprint instead, so a run
    resumes after the store moved (another mount point inside a container, say). So are the
    runtime settings (RUNTIME_FIELDS), the labels (LABEL_FIELDS) and the fields of
    IDENTITY_DEFAULTS at those defaults.

    Parameters
    ----------
    values : dict
        ``TrainConfig.model_dump(mode="json")``.

    Returns
    -------
    dict
        A new dict of JSON values.
    """
    data = dict(values)
    for key in (*RUNTIME_FIELDS, "store", *LABEL_FIELDS):
        data.pop(key)
    # absent at their defaults: the ids and run dirs of earlier (and plain) cells stay valid
    for key, default in IDENTITY_DEFAULTS.items():
        if data[key] == default:
            data.pop(key)
    return data


def identity_differences(
    identity: dict[str, Any], recorded: dict[str, Any]
) -> list[tuple[str, Any, Any]]:
    """(field, recorded value, new value) of every identity field that differs.

    Fields left out of the identity at their defaults are compared at those defaults, so a run
    recorded with ``output_stats: original`` differs from one that asks for the default.

    Parameters
    ----------
    identity : dict
        The asked-for run's :func:`identity_of`.
    recorded : dict
        A run's ``config.json``.

    Returns
    -------
    list of (str, Any, Any)
        Sorted by field name; empty when the recorded run is the asked-for one.
    """
    keys = sorted(set(identity) | set(IDENTITY_DEFAULTS))
    out = []
    for key in keys:
        new = identity.get(key, IDENTITY_DEFAULTS.get(key))
        old = recorded.get(key, IDENTITY_DEFAULTS.get(key))
        if old != new:
            out.append((key, old, new))
    return out


def describe_differences(diffs: list[tuple[str, Any, Any]], limit: int = 3) -> str:
    """``hidden 4 -> 8, basins 9 -> 7 basins``: differences of :func:`identity_differences` in
    a short line (basin lists by their size and what changed, never the ids in full).

    Parameters
    ----------
    diffs : list of (field, old, new)
    limit : int
        Fields shown; more are counted (``(+2 more)``).

    Returns
    -------
    str
    """
    shown = [f"{key} {_value_change(key, old, new)}" for key, old, new in diffs[:limit]]
    more = f" (+{len(diffs) - limit} more)" if len(diffs) > limit else ""
    return ", ".join(shown) + more


def _value_change(key: str, old: Any, new: Any) -> str:
    if key == "train_period":
        return f"{_period(old)} -> {_period(new)}"
    if key not in ("basins", "eval_basins") or not (isinstance(old, list) or isinstance(new, list)):
        return f"{_short(old)} -> {_short(new)}"
    olds, news = set(old or ()), set(new or ())
    detail = [f"+{len(news - olds)}"] if news - olds else []
    detail += [f"-{len(olds - news)}"] if olds - news else []
    extra = f" ({' '.join(detail)})" if old is not None and new is not None and detail else ""
    return f"{_count(old)} -> {_count(new)} basins{extra}"


def _period(value: Any) -> str:
    if isinstance(value, list | tuple) and len(value) == 2:
        return f"{value[0]}..{value[1]}"
    return "(the store's)" if value is None else _short(value)


def _count(ids: list | None) -> str:
    return "all" if ids is None else str(len(ids))


def _short(value: Any) -> str:
    text = "(unset)" if value is None else str(value)
    return text if len(text) <= 40 else text[:37] + "..."
