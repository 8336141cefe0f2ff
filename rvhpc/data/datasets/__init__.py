"""Dataset readers, a registry by name: ``camels_us`` and ``caravan`` (registry.py)."""

from rvhpc.data.datasets.base import TARGET, BasinRecord, Dataset
from rvhpc.data.datasets.registry import DATASETS, dataset_class, open_dataset

__all__ = ["DATASETS", "TARGET", "BasinRecord", "Dataset", "dataset_class", "open_dataset"]
