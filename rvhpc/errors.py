"""Error types. Every error a user can cause is an RvhpcError whose message is one line:
which file, which field, what to do. The CLI prints it and exits non-zero, never a traceback."""

from __future__ import annotations


class RvhpcError(Exception):
    """Base class of all user-facing errors."""

    exit_code: int = 2


class DataError(RvhpcError):
    """CAMELS files, basin lists or stores are missing, malformed or inconsistent."""


class StoreError(DataError):
    """A basin store is missing, incompatible or corrupt."""


class ConfigError(RvhpcError):
    """A grid file, site profile or training option is invalid."""


class RunDirError(RvhpcError):
    """A run directory holds a different configuration or is not usable."""


class SchedulerError(RvhpcError):
    """sbatch/squeue/sacct or another scheduler command failed."""


class ContainerError(RvhpcError):
    """No container runtime, or building/running an image failed."""


class CollectError(RvhpcError):
    """Results cannot be collected (no finished cells, corrupt predictions, mismatched basins)."""
