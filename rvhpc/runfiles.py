"""The run-directory contract: the one home of its file names and log names.

Training writes these files, and grid, status, collect and the array-task runner read them. Every
module imports the names from here, so a rename is a change of one line. torch-free, so that
``--help`` and collect stay light. What the records in those files hold (DONE, DIVERGED,
provenance.json) is :mod:`rvhpc.runrecords`; the exit status of a run is :mod:`rvhpc.exitcodes`.
"""

from __future__ import annotations

import re

from rvhpc.atomic import temp_of

CONFIG_JSON = "config.json"
STATICS_NPZ = "statics.npz"
LOSSES_CSV = "losses.csv"
PREDICTIONS = "predictions.parquet"
METRICS_CSV = "metrics.csv"
DONE = "DONE"
#: written instead of DONE by a run whose loss or predictions became non-finite (JSON: the epoch,
#: what was non-finite); such a run is never counted done, and never resumed from its checkpoints
DIVERGED = "DIVERGED"
CHECKPOINT_DIR = "checkpoints"
#: the same two files over the validation period (a TrainConfig with ``val_period``)
VAL_PREDICTIONS = "val_predictions.parquet"
VAL_METRICS_CSV = "val_metrics.csv"
#: early stopping's record: validation score per epoch, the chosen epoch, where it stopped
EARLY_STOPPING_JSON = "early_stopping.json"
#: an Optuna study of a grid's ``search:`` experiment (JournalStorage, one file, NFS-safe)
STUDY_JOURNAL = "optuna.journal"
#: the basin list a synthetic CAMELS tree holds (``rvhpc data synth``)
BASIN_LIST = "basin_list.txt"
#: what ``rvhpc evaluate`` used (weights, statics, store), next to its predictions
EVALUATION_JSON = "evaluation.json"
#: what produced the run, one record per session (start or resume): versions, CPU, kernel path,
#: threads, numerics mode, denormals, device (rvhpc.kernels.record)
PROVENANCE_JSON = "provenance.json"

#: checkpoints in CHECKPOINT_DIR: one per complete epoch, and one of an epoch stopped midway
EPOCH_CHECKPOINT = re.compile(r"^epoch_(\d{3,})\.pt$")
PARTIAL_CHECKPOINT = "partial.pt"

#: the lock a trainer holds while it works in a run directory (rvhpc.training.runlock)
RUN_LOCK = "train.lock"

#: the files a training run owns (``--force`` removes these and nothing else)
RUN_FILES = (
    CONFIG_JSON,
    STATICS_NPZ,
    LOSSES_CSV,
    PREDICTIONS,
    METRICS_CSV,
    VAL_PREDICTIONS,
    VAL_METRICS_CSV,
    EARLY_STOPPING_JSON,
    DONE,
    DIVERGED,
    PROVENANCE_JSON,
)

#: rvhpc's own bookkeeping inside a grid's runs directory, and what it holds
STATE_DIR = ".rvhpc"
MANIFESTS_DIR = "manifests"
ATTEMPTS_DIR = "attempts"

# log files of a grid (in ``Grid.log_dir``): Slurm fills %A (array job), %a (task), %j (job);
# each name is made here and nowhere else


def array_log_name(grid: str) -> str:
    """``--output`` of an array task: Slurm makes it ``<grid>_<array job>_<task>.log``."""
    return f"{grid}_%A_%a.log"


def task_log_name(grid: str, job: str) -> str:
    """The log of one array task ``job`` (``<array job>_<task>``): :func:`array_log_name` filled."""
    return f"{grid}_{job}.log"


def collect_log_name(grid: str) -> str:
    """``--output`` of a grid's collect job."""
    return f"{grid}_collect_%j.log"


def local_log_name(grid: str, index: int) -> str:
    """The log of cell ``index`` run on this machine by ``rvhpc run``."""
    return f"{grid}_local_{index}.log"


def attempts_log_name(cell_id: str) -> str:
    """The attempt log (JSON lines) of one cell in ``STATE_DIR/ATTEMPTS_DIR``."""
    return f"{cell_id}.jsonl"


def own_checkpoint(name: str) -> bool:
    """True for a file name training writes in CHECKPOINT_DIR (atomic-write temp files too).

    Parameters
    ----------
    name : str
        A file name in a run's checkpoints folder.

    Returns
    -------
    bool
    """
    base = temp_of(name) or name  # an atomic write's temporary counts as its file
    return base == PARTIAL_CHECKPOINT or EPOCH_CHECKPOINT.match(base) is not None
