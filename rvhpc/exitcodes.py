"""The exit status of a training process: the one outcome-to-exit-code map.

``rvhpc train``, ``rvhpc cell`` (the array task) and the local runner all read it from
:data:`OUTCOME_EXIT` through :func:`outcome_exit_code`, so a new outcome cannot be mapped in one
place and forgotten in another; the array script requeues on :data:`EXIT_REQUEUE`, and the CLI
exits with :data:`EXIT_INTERRUPTED` on Ctrl-C. torch-free, so that ``--help`` stays light.
"""

from __future__ import annotations

import signal

#: exit status of a run that saved a checkpoint on a signal and wants to be requeued (EX_TEMPFAIL)
EXIT_REQUEUE = 75
#: exit status of a command stopped by Ctrl-C (SIGINT), after it saved what it could (128 + 2)
EXIT_INTERRUPTED = 130
#: exit status of a run whose training loss or predictions became non-finite (no DONE written).
#: Not 1 (an unexpected error) nor 2 (bad input): the input was valid and the run ended cleanly,
#: but its result is unusable; a Slurm task that exits with it is not requeued.
EXIT_DIVERGED = 3

#: exit status of each training outcome (rvhpc.training.finish.TrainOutcome.status); a preempted
#: run's depends on the signal (:func:`outcome_exit_code`)
OUTCOME_EXIT = {"done": 0, "skipped": 0, "diverged": EXIT_DIVERGED, "preempted": EXIT_REQUEUE}


def outcome_exit_code(status: str, signum: int | None = None) -> int:
    """The exit status of one training outcome: THE map, used by train, cell and the runners.

    Parameters
    ----------
    status : str
        ``done``, ``skipped``, ``diverged`` or ``preempted``.
    signum : int, optional
        The signal that stopped a preempted run: SIGINT (Ctrl-C) gives EXIT_INTERRUPTED, as for
        any interrupted command; Slurm's signals give EXIT_REQUEUE (requeue me).

    Returns
    -------
    int
        0, EXIT_DIVERGED, EXIT_REQUEUE or EXIT_INTERRUPTED.
    """
    if status == "preempted" and signum == signal.SIGINT:
        return EXIT_INTERRUPTED
    return OUTCOME_EXIT[status]


def pack_exit_code(codes: list[int]) -> int:
    """One exit status for the members of a pack: the most urgent (interrupted > requeue >
    diverged > done), so a requeued task resumes the preempted members and reports the diverged
    ones on its last start.

    Parameters
    ----------
    codes : list of int
        The members' :func:`outcome_exit_code`.

    Returns
    -------
    int
    """
    return max(codes, default=0)
