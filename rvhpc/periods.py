"""Training and evaluation periods: ``[first day, last day]`` pairs of YYYY-MM-DD dates, inclusive.

One home for reading a period (grid files, ``rvhpc data prepare``): strict dates, start not after
end, and a warning when the evaluation scores days the model was trained on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from rvhpc import progress
from rvhpc.errors import excerpt

#: the paper's periods (reference.md), the defaults of ``rvhpc data prepare`` and ``check``
PAPER_TRAIN_PERIOD = ("1999-10-01", "2008-09-30")
PAPER_EVAL_PERIOD = ("1989-10-01", "1999-09-30")
#: the days rvhpc accepts: those pandas' nanosecond timestamps hold (1677-09-22 .. 2262-04-11)
FIRST_DAY, LAST_DAY = dt.date(1678, 1, 1), dt.date(2261, 12, 31)


def parse_period(period: Sequence) -> tuple[dt.date, dt.date]:
    """(start, end) of a period.

    Parameters
    ----------
    period : sequence
        Two YYYY-MM-DD dates (text or dates), first and last day, inclusive.

    Returns
    -------
    tuple[date, date]

    Raises
    ------
    ValueError
        One line, no location (the caller adds it): not two dates, a day outside
        FIRST_DAY..LAST_DAY, or the start after the end.
    """
    if isinstance(period, str | bytes) or len(period) != 2:
        raise ValueError(
            f"expected [first day, last day] as two YYYY-MM-DD dates, got {excerpt(period)}"
        )
    days = []
    for value in period:
        if isinstance(value, dt.datetime):
            value = value.date()
        if isinstance(value, dt.date):
            days.append(value)
            continue
        try:
            days.append(dt.date.fromisoformat(str(value).strip()))
        except ValueError:
            raise ValueError(f"{excerpt(value)} is not a YYYY-MM-DD date") from None
    for day in days:
        if not FIRST_DAY <= day <= LAST_DAY:
            raise ValueError(f"{day} is outside {FIRST_DAY}..{LAST_DAY}, the days rvhpc can hold")
    start, end = days
    if start > end:
        raise ValueError(f"the period starts after it ends ({start} > {end}); swap the dates")
    return start, end


def overlap_days(train: Sequence, evaluation: Sequence) -> int:
    """Days that lie in both periods.

    Parameters
    ----------
    train, evaluation : sequence
        Two periods (:func:`parse_period`).

    Returns
    -------
    int
        The shared days; 0 when the periods are disjoint.
    """
    (a, b), (c, d) = parse_period(train), parse_period(evaluation)
    return max(0, (min(b, d) - max(a, c)).days + 1)


def warn_overlap(train: Sequence, evaluation: Sequence, where: str) -> None:
    """A progress warning when the evaluation period overlaps the training period.

    Parameters
    ----------
    train, evaluation : sequence
        The periods.
    where : str
        What the warning names (``grid paper``).
    """
    days = overlap_days(train, evaluation)
    if days:
        progress.log(
            f"warning: {where}: the train period {'..'.join(map(str, train))} and the eval period "
            f"{'..'.join(map(str, evaluation))} share {days} days: evaluation scores days the "
            "model was trained on"
        )


def check_apart(validation: Sequence, others: dict[str, Sequence | None]) -> None:
    """ValueError (one line) when the validation period shares a day with any of ``others``
    (``{"training": period, "evaluation": period}``; None entries are skipped).

    A validation period chooses settings and epochs: a day it shares with the training period
    rewards memorising, one it shares with the evaluation (test) period leaks the test into the
    choice. Both are refused, never warned about.
    """
    for name, period in others.items():
        if period is None:
            continue
        days = overlap_days(validation, period)
        if days:
            raise ValueError(
                f"the validation period {'..'.join(map(str, validation))} shares {days} days "
                f"with the {name} period {'..'.join(map(str, period))}; choose days outside "
                "the training and evaluation periods"
            )
