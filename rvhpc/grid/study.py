"""The Optuna study of a ``search:`` experiment: one journal file on the shared filesystem
(``<experiment folder>/optuna.journal``, Optuna's JournalStorage with its NFS-safe file lock),
no database server.

rvhpc's trials are the array tasks ``trial=0`` .. ``trial=N-1`` (each trains all the experiment's
seeds). A task *claims* its trial, under a lock of its own beside the journal:

- the study holds a trial tagged with this task's number (user attribute ``rvhpc_trial``):
  COMPLETE -> nothing to do; RUNNING -> an earlier attempt was preempted, killed or failed:
  train the same settings again (resuming from the checkpoints in its run folders), and report
  once; FAIL -> final (the trial trained and scored NaN), nothing to do;
- else it asks the study for new settings and tags the trial. A trial left RUNNING without a
  tag (its task died between asking and tagging) is marked FAIL first, so it is never counted.

So a preempted or failed trial is tried again with the same settings, never lost, never counted
twice. Trial k's sampler is seeded with (seed, k): with one worker at a time the study repeats
exactly; with parallel workers a trial's settings depend on which trials had finished when it
asked (the random start-up trials of TPE excepted: they depend on the seed alone).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rvhpc.errors import ConfigError, SchedulerError
from rvhpc.grid.search import space_from_json

STUDY_NAME = "rvhpc"
#: the user attribute that ties a study trial to rvhpc's trial (its array task)
TRIAL_ATTR = "rvhpc_trial"
OBJECTIVE = "validation ensemble median NSE"
#: the study's user attribute holding what it was made with (:func:`study_meta`)
META_ATTR = "rvhpc"


@dataclass
class Claim:
    """What a task got from the study: the Optuna trial ``number``, its settings, and whether it
    is ``new``, ``resumed`` (RUNNING before), ``complete`` or ``failed`` (final)."""

    number: int
    params: dict[str, Any] = field(default_factory=dict)
    state: str = "new"
    value: float | None = None


def _quiet_optuna() -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def storage(path: Path) -> Any:
    """Optuna's JournalStorage on one file, with the open(O_EXCL) lock made for NFSv3+."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

    return JournalStorage(JournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path))))


def sampler(record: dict[str, Any], trial: int) -> Any:
    """The sampler of rvhpc trial ``trial``: TPE (constant liar: running trials count as bad, so
    parallel workers spread out) or random, seeded with (seed, trial)."""
    optuna = _quiet_optuna()
    seed = (int(record["seed"]) * 1_000_003 + int(trial)) % 2**32
    if record["sampler"] == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, constant_liar=True)


def study_meta(record: dict[str, Any]) -> dict[str, Any]:
    """What the study records about itself, checked on every open (the trial count is not: a
    search may be extended with more trials)."""
    return {
        "sampler": record["sampler"],
        "seed": record["seed"],
        "space": record["space"],
        "objective": OBJECTIVE,
    }


def open_study(record: dict[str, Any], trial: int = 0) -> Any:
    """Create or load the study of a search record (``Cell.search``).

    Raises
    ------
    ConfigError
        The journal holds a study made with another space, sampler or seed.
    """
    optuna = _quiet_optuna()
    path = Path(record["study"])
    path.parent.mkdir(parents=True, exist_ok=True)
    study = optuna.create_study(
        storage=storage(path),
        study_name=STUDY_NAME,
        direction="maximize",
        load_if_exists=True,
        sampler=sampler(record, trial),
    )
    meta, known = study_meta(record), study.user_attrs.get(META_ATTR)
    if known is None:  # one journal record, so a concurrent opener sees all of it or none
        study.set_user_attr(META_ATTR, meta)
    elif known != meta:
        changed = ", ".join(k for k, v in meta.items() if known.get(k) != v)
        raise ConfigError(
            f"{path}: this study was made with another {changed}; restore the grid's search, "
            "or move the study and its trial folders away to start a new one"
        )
    return study


def _claim_of(trials: list, trial: int) -> Claim | None:
    mine = [t for t in trials if t.user_attrs.get(TRIAL_ATTR) == trial]
    if not mine:
        return None
    t = mine[-1]
    state = {"COMPLETE": "complete", "RUNNING": "resumed", "FAIL": "failed"}.get(t.state.name)
    if state is None:  # PRUNED/WAITING never come from rvhpc; treat as to be run again
        return None
    return Claim(t.number, dict(t.params), state, t.value)


def claim(record: dict[str, Any], main: bool = True, wait_s: float = 600.0) -> Claim:
    """This task's trial (see the module docstring). Only the main rank of a DDP task asks; the
    other ranks wait until the study shows the trial, then train the same settings.

    Raises
    ------
    SchedulerError
        A non-main rank saw no trial within ``wait_s`` seconds.
    """
    from optuna.storages.journal import JournalFileOpenLock
    from optuna.trial import TrialState

    trial = int(record["trial"])
    study = open_study(record, trial)
    if not main:
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            found = _claim_of(study.get_trials(deepcopy=False), trial)
            if found is not None and found.params:
                return found
            time.sleep(1.0)
        raise SchedulerError(f"{record['study']}: rank 0 claimed no trial={trial} in {wait_s} s")
    lock = JournalFileOpenLock(str(record["study"]) + ".claim")
    lock.acquire()
    try:
        trials = study.get_trials(deepcopy=False)
        found = _claim_of(trials, trial)
        if found is not None:
            return found
        for t in trials:  # asked but never tagged: its task died in between; never counted
            if t.state == TrialState.RUNNING and TRIAL_ATTR not in t.user_attrs:
                study.tell(t.number, state=TrialState.FAIL)
        space = space_from_json(record["space"])
        asked = study.ask({p.name: p.distribution() for p in space})
        asked.set_user_attr(TRIAL_ATTR, trial)
        return Claim(asked.number, dict(asked.params), "new")
    finally:
        lock.release()


def report(record: dict[str, Any], number: int, value: float) -> None:
    """Tell the study trial ``number``'s score; a NaN score is a final FAIL (it trained, and
    training again would give the same NaN)."""
    from optuna.trial import TrialState

    study = open_study(record, int(record["trial"]))
    if math.isfinite(value):
        study.tell(number, value)
    else:
        study.tell(number, state=TrialState.FAIL)


def trials_frame(path: Path) -> Any:
    """Every trial of a study journal as a DataFrame (number, state, value, rvhpc trial, params,
    start and end), plus the study's sampler, seed and objective."""
    import pandas as pd

    optuna = _quiet_optuna()
    study = optuna.load_study(study_name=STUDY_NAME, storage=storage(path))
    meta = study.user_attrs.get(META_ATTR, {})
    rows = []
    for t in study.get_trials(deepcopy=False):
        rows.append(
            {
                "trial": t.user_attrs.get(TRIAL_ATTR),
                "optuna_number": t.number,
                "state": t.state.name,
                "value": t.value,
                "sampler": meta.get("sampler"),
                "sampler_seed": meta.get("seed"),
                "objective": meta.get("objective"),
                "started": t.datetime_start,
                "completed": t.datetime_complete,
                **{f"param_{k}": v for k, v in t.params.items()},
            }
        )
    return pd.DataFrame(rows)
