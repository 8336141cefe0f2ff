"""Synthetic datasets in the exact layout and formats of the published files: ``camels`` (CAMELS
US, with the attributes of ``attrs``), built from ``weather`` and ``hydrology``, and ``caravan``
(Caravan's layout, from the same weather and hydrology)."""

from __future__ import annotations

import os

from rvhpc.data.synth.camels import SynthResult, check_target, synthesize
from rvhpc.errors import DataError

__all__ = ["SynthResult", "check_target", "synthesize", "synthesize_dataset"]


def synthesize_dataset(dataset: str, out: str | os.PathLike, **options) -> SynthResult:
    """A synthetic tree of ``dataset`` (camels_us or caravan) under ``out``; options as
    :func:`rvhpc.data.synth.camels.synthesize` (``n_basins``, ``start``, ``end``, ``seed``,
    ``overwrite``)."""
    if dataset == "camels_us":
        return synthesize(out, **options)
    if dataset == "caravan":
        from rvhpc.data.synth.caravan import synthesize_caravan

        return synthesize_caravan(out, **options)
    raise DataError(f"--dataset {dataset!r}: rvhpc synthesizes camels_us or caravan")
