"""The run directory of one training run: its files, atomic writes, and the config guard.

Completion is a fact on disk: ``DONE`` is written last, after ``predictions.parquet`` and
``metrics.csv``. Every file is written to a temporary name in the same folder and renamed.
``statics.npz`` is written and compared by :mod:`rvhpc.training.runstatics`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rvhpc import __version__
from rvhpc.atomic import write_json, write_text
from rvhpc.errors import RunDirError
from rvhpc.runfiles import (
    CHECKPOINT_DIR,
    CONFIG_JSON,
    DIVERGED,
    DONE,
    LOSSES_CSV,
    METRICS_CSV,
    PREDICTIONS,
    PROVENANCE_JSON,
    RUN_FILES,
    STATICS_NPZ,
    own_checkpoint,
)
from rvhpc.runrecords import diverged_record, git_commit, read_provenance, run_is_done
from rvhpc.training.identity import describe_differences


class RunDir:
    """Paths and state of one run directory."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    config_json = property(lambda self: self.path / CONFIG_JSON)
    statics_npz = property(lambda self: self.path / STATICS_NPZ)
    losses_csv = property(lambda self: self.path / LOSSES_CSV)
    predictions = property(lambda self: self.path / PREDICTIONS)
    metrics_csv = property(lambda self: self.path / METRICS_CSV)
    done = property(lambda self: self.path / DONE)
    checkpoints = property(lambda self: self.path / CHECKPOINT_DIR)
    provenance_json = property(lambda self: self.path / PROVENANCE_JSON)

    def append_provenance(self, ranks: list[dict[str, Any]], from_epoch: int) -> None:
        """Add a session to provenance.json: every rank's record of what computes this run from
        epoch ``from_epoch`` on (0: from the start; the number of epochs: evaluation only)."""
        sessions = read_provenance(self.path) or []
        sessions.append({"from_epoch": from_epoch, "ranks": ranks})
        write_json(self.provenance_json, {"sessions": sessions})

    def is_done(self, verify: bool = False) -> bool:
        """:func:`rvhpc.runrecords.run_is_done` of this folder.

        Parameters
        ----------
        verify : bool
            Also compare the predictions' sha256.

        Returns
        -------
        bool
        """
        return run_is_done(self.path, verify=verify)

    def read_config(self) -> dict[str, Any] | None:
        """The recorded config.json, or None when there is none.

        Returns
        -------
        dict or None

        Raises
        ------
        RunDirError
            config.json is not readable JSON.
        """
        if not self.config_json.exists():
            return None
        try:
            return json.loads(self.config_json.read_text())
        except (OSError, ValueError) as exc:  # ValueError: bad JSON, or not UTF-8
            raise RunDirError(
                f"{self.config_json}: unreadable ({exc}); start over with --force"
            ) from None

    def check_same(self, config: Any, fingerprint: str) -> None:
        """Refuse a run dir whose config.json describes another run.

        Parameters
        ----------
        config : TrainConfig
            The run asked for; compared by :meth:`TrainConfig.differences` (the one comparison,
            also behind the grid's *stale* cells).
        fingerprint : str
            The store's; a run trained on another store's contents is another run.

        Raises
        ------
        RunDirError
            Naming up to three fields that differ, old -> new.
        """
        old = self.read_config()
        if old is None:
            return
        shown = describe_differences(config.differences(old))
        if old.get("store_fingerprint") != fingerprint:
            shown = ", ".join(
                filter(None, [shown, "store_fingerprint (the store's contents changed)"])
            )
        if shown:
            raise RunDirError(
                f"{self.path} holds a different run ({shown}): pass another --out, "
                "or --force to delete its results and start over"
            )

    def diverged(self) -> dict[str, Any] | None:
        """The DIVERGED record (epoch, reason) when this run diverged, else None.

        Returns
        -------
        dict or None
        """
        return diverged_record(self.path)

    def write_diverged(self, epoch: int, reason: str) -> None:
        """Mark the run diverged: DIVERGED (JSON) in place of DONE, and any DONE removed.

        Parameters
        ----------
        epoch : int
            The 1-based epoch whose loss was non-finite (the last epoch for predictions).
        reason : str
            What was non-finite, e.g. ``training loss nan``.
        """
        write_json(self.path / DIVERGED, {"epoch": epoch, "reason": reason})
        self.done.unlink(missing_ok=True)

    def clear(self) -> None:
        """Remove this run's own files (``--force``): RUN_FILES and checkpoint files by name.

        Anything else, in the folder or in checkpoints/, is kept.
        """
        for name in RUN_FILES:
            (self.path / name).unlink(missing_ok=True)
        if self.checkpoints.is_dir():
            for path in self.checkpoints.iterdir():
                if own_checkpoint(path.name) and path.is_file():
                    path.unlink(missing_ok=True)
            if not any(self.checkpoints.iterdir()):
                self.checkpoints.rmdir()

    def check_own(self) -> None:
        """Refuse (without ``--force``) a folder holding run files no training of it wrote.

        Training writes config.json first, so results or checkpoints without it are someone
        else's; resuming would overwrite them, or train on from a foreign checkpoint.
        """
        if self.config_json.exists():
            return
        found = [name for name in RUN_FILES if (self.path / name).exists()]
        if self.checkpoints.is_dir():
            found += [
                f"{CHECKPOINT_DIR}/{p.name}"
                for p in sorted(self.checkpoints.iterdir())
                if own_checkpoint(p.name)
            ]
        if found:
            raise RunDirError(
                f"{self.path} holds {', '.join(found[:3])} but no {CONFIG_JSON}: rvhpc train did "
                "not write them; move them away, pass another --out, or --force to delete them"
            )

    def append_loss(self, epoch: int, train_loss: float, lr: float, seconds: float) -> None:
        """Rewrite losses.csv with the rows of earlier epochs plus this one (atomic).

        Parameters
        ----------
        epoch : int
        train_loss, lr, seconds : float
            The epoch's mean loss (NaN for a diverged epoch), learning rate and duration.

        Raises
        ------
        RunDirError
            losses.csv is garbled.
        """
        rows = []
        if self.losses_csv.exists():
            try:
                rows = [
                    r
                    for r in self.losses_csv.read_text().splitlines()[1:]
                    if r and int(r.split(",")[0]) < epoch
                ]
            except (ValueError, UnicodeDecodeError):
                raise RunDirError(
                    f"{self.losses_csv}: garbled (not rows of epoch,train_loss,lr,seconds); "
                    "delete it (the checkpoints hold the training state) or start over with --force"
                ) from None
        rows.append(f"{epoch},{train_loss:.8g},{lr:.8g},{seconds:.3f}")
        write_text(self.losses_csv, "epoch,train_loss,lr,seconds\n" + "\n".join(rows) + "\n")


def config_record(
    identity_and_runtime: dict[str, Any], fingerprint: str, experiment: str
) -> dict[str, Any]:
    """What config.json holds: the resolved config plus provenance.

    Parameters
    ----------
    identity_and_runtime : dict
        ``TrainConfig.model_dump(mode="json")``.
    fingerprint : str
        The store's.
    experiment : str
        The experiment's name (the grid's ``name:``, else the paper's).

    Returns
    -------
    dict
    """
    return {
        **identity_and_runtime,
        "rvhpc_version": __version__,
        "git_commit": git_commit(),
        "store_fingerprint": fingerprint,
        "experiment": experiment,
    }
