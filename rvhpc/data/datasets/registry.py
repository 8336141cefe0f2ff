"""The dataset registry: name -> reader class, and :func:`open_dataset`.

To add a dataset (CAMELS-GB, neuralhydrology's generic layout, ...), write one module with a
:class:`~rvhpc.data.datasets.base.Dataset` subclass (``caravan.py`` is a full example, with its
file reading in ``caravan_files.py``) and add its line to ``DATASETS``; ``--dataset NAME`` and
``data: {dataset: NAME}`` then find it (docs/real-run.md, "Adding a dataset").
"""

from __future__ import annotations

import os
from typing import Any

from rvhpc.data.datasets.base import Dataset
from rvhpc.data.datasets.camels_us import CamelsUS
from rvhpc.data.datasets.caravan import Caravan
from rvhpc.errors import DataError

DATASETS: dict[str, type[Dataset]] = {
    "camels_us": CamelsUS,
    "caravan": Caravan,
}


def dataset_class(name: str) -> type[Dataset]:
    """The reader class registered under ``name``; DataError listing the known names otherwise."""
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        raise DataError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}") from None


def open_dataset(
    name: str,
    roots: list[str | os.PathLike] | str | os.PathLike,
    basin_file: str | os.PathLike,
    inputs: list[str] | None = None,
    descriptors: list[str] | None = None,
    **options: Any,
) -> Dataset:
    """A reader of dataset ``name`` over ``roots`` for the basins of ``basin_file``.

    Parameters
    ----------
    name : a key of :data:`DATASETS`
    roots : the root folder, or several (Caravan and its extensions)
    basin_file : the basin list
    inputs, descriptors : None for the dataset's defaults
    options : reader options (``forcing`` of camels_us, ``format`` of caravan); None values are
        dropped

    Raises
    ------
    DataError
        Unknown dataset, unusable roots or list, unknown options or names.
    """
    if isinstance(roots, (str, os.PathLike)):
        roots = [roots]
    options = {k: v for k, v in options.items() if v is not None}
    return dataset_class(name)(list(roots), basin_file, inputs, descriptors, **options)
