"""One trial of a search (``rvhpc cell`` on a trial's cells): claim the trial in the study, train
all the experiment's seeds with its settings as one pack, score the seed ensemble on the
validation period, tell the study. See rvhpc/grid/study.py for how a preempted or failed trial
is tried again without being counted twice.
"""

from __future__ import annotations

from typing import Any

from rvhpc import progress
from rvhpc.evaluation.ensemble import ensemble_median_nse
from rvhpc.grid import study
from rvhpc.grid.cells import Cell
from rvhpc.jobenv import JobEnv
from rvhpc.runfiles import VAL_PREDICTIONS


def trial_point(cell: Cell, claim: study.Claim) -> dict[str, Any]:
    """The ``point`` label of a trial's runs: its name, settings, and Optuna number."""
    trial = cell.search["trial"]
    return {
        "name": f"trial={trial}",
        "values": claim.params,
        "trial": trial,
        "optuna_number": claim.number,
    }


def run_trial(members: list[Cell], env: JobEnv, force: bool = False) -> list[Any]:
    """Train one search trial; the TrainOutcome of each of its cells (seeds).

    Raises
    ------
    RvhpcError
        A study made with another space or sampler, bad settings, missing data.
    """
    from rvhpc.training.config import TrainConfig
    from rvhpc.training.finish import TrainOutcome
    from rvhpc.training.run import train_pack

    record = members[0].search
    claim = study.claim(record, main=env.is_main)
    where = f"{record['study']}: trial={record['trial']} (Optuna trial {claim.number})"
    reported = claim.state in ("complete", "failed")
    if reported and all(c.is_done() for c in members):
        progress.log(f"{where} is {claim.state} (value {claim.value}); nothing to do")
        return [TrainOutcome("skipped", c.run_dir, rank=env.rank) for c in members]
    settings = ", ".join(f"{k}={v}" for k, v in claim.params.items())
    what = (
        "retraining lost seeds of"
        if reported
        else "resuming"
        if claim.state == "resumed"
        else "trying"
    )
    progress.log(f"{where}: {what} {settings}")
    point = trial_point(members[0], claim)
    configs = [TrainConfig.create(**{**c.config, **claim.params, "point": point}) for c in members]
    outcomes = train_pack(configs, [c.run_dir for c in members], force=force)
    if any(o.status == "preempted" for o in outcomes):
        return outcomes  # the trial stays RUNNING: the requeued task resumes it
    if env.is_main and not reported:  # told once; a seed retrained later changes nothing
        ordered = sorted(members, key=lambda c: c.seed)  # collect sums the seeds in this order
        value = ensemble_median_nse([c.run_dir / VAL_PREDICTIONS for c in ordered])
        study.report(record, claim.number, value)
        progress.log(f"{where}: validation ensemble median NSE {value:.4f}, reported")
    return outcomes
