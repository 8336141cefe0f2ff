"""Static vectors x_s that tell the global model which basin it sees (reference.md section 3).

Kinds: ``physics`` (27 descriptors), ``gaussian`` (d random columns drawn with ``attr_seed``),
``mixed`` (27 descriptors + d-27 random columns), ``one_hot`` (identity, not standardised) and
``none``. All but one_hot are standardised across the store's (training) basins with the sample
standard deviation (ddof=1, as pandas in the original code); a zero or undefined std becomes 1.
Rows follow the store's basin order, and the same arguments always give the same vectors.

The random columns are the original code's draw (``add_camels_attributes`` in its
``papercode/datautils.py``): ``np.random.seed(attr_seed)`` and then one
``np.random.normal(0, 1, size=(n_basins, d))`` call (mixed: ``d - 27`` columns) from numpy's
legacy global generator, rows in basin-list order. rvhpc draws from its own
``np.random.RandomState(attr_seed)``, which yields the same stream without touching numpy's global
state, so for one basin list and attr_seed the vectors equal those of a run of the original code.
(rvhpc up to 0.1.0 drew with ``np.random.default_rng``: the same attr_seed gave other vectors.)
Standardisation is pandas' ``(df - df.mean()) / df.std()`` as in the original, so the result is
bit-identical too, not only close.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rvhpc.data.camels import DESCRIPTORS
from rvhpc.data.store import BasinStore
from rvhpc.errors import ConfigError

#: what a held-out basin's static vector is, per kind (PUB results are labelled with it)
UNSEEN_STATIC = {
    "physics": "descriptors standardised with training-basin statistics",
    "mixed": "descriptors with training-basin statistics + fresh random columns",
    "gaussian": "fresh random draw (no learned vector for an unseen basin)",
    "one_hot": "zero vector (unknown basin)",
    "none": "no static vector",
}


@dataclass
class StaticVectors:
    """One static vector per basin (``values`` is None for kind ``none``)."""

    kind: str
    basins: list[str]
    values: np.ndarray | None
    names: list[str]
    dim: int

    def row_of(self, basin: str) -> int:
        return self.basins.index(basin)


def standardise(values: np.ndarray) -> np.ndarray:
    """Column-wise (x - mean) / std over rows, std with ddof=1; a zero/undefined std becomes 1.

    Computed with pandas exactly as the original code's ``CamelsH5._load_attributes`` (pandas
    sums a column in another order than numpy does along axis 0, so numpy would differ in the
    last bits).
    """
    frame = pd.DataFrame(np.asarray(values, dtype=np.float64))
    mean = frame.mean()
    std = frame.std() if len(frame) > 1 else pd.Series(1.0, index=frame.columns)
    std[~(np.isfinite(std) & (std > 0))] = 1.0
    return ((frame - mean) / std).to_numpy(np.float64)


def gaussian_draw(n: int, d: int, attr_seed: int) -> np.ndarray:
    """The original code's random columns: ``np.random.seed(attr_seed)`` then
    ``np.random.normal(0, 1, size=(n, d))``, from a private legacy ``RandomState`` (same stream,
    numpy's global state untouched)."""
    return np.random.RandomState(attr_seed).normal(0, 1, size=(n, d))


def _random_names(d: int) -> list[str]:
    return [f"rv_{k:03d}" for k in range(d)]


def _physics(store: BasinStore, dim: int | None, attr_seed: int) -> tuple[np.ndarray, list[str]]:
    return standardise(store.descriptors), list(DESCRIPTORS)


def _gaussian(store: BasinStore, dim: int | None, attr_seed: int) -> tuple[np.ndarray, list[str]]:
    assert dim is not None
    return standardise(gaussian_draw(len(store.basins), dim, attr_seed)), _random_names(dim)


def _mixed(store: BasinStore, dim: int | None, attr_seed: int) -> tuple[np.ndarray, list[str]]:
    assert dim is not None
    extra = gaussian_draw(len(store.basins), dim - len(DESCRIPTORS), attr_seed)
    values = np.concatenate([store.descriptors, extra], axis=1)
    return standardise(values), list(DESCRIPTORS) + _random_names(dim - len(DESCRIPTORS))


def _one_hot(store: BasinStore, dim: int | None, attr_seed: int) -> tuple[np.ndarray, list[str]]:
    return np.eye(len(store.basins)), [f"basin_{b}" for b in store.basins]


def _none(store: BasinStore, dim: int | None, attr_seed: int) -> tuple[None, list[str]]:
    return None, []


#: kind name -> builder(store, dim, attr_seed) -> (values or None, column names)
STATIC_BUILDERS: dict[
    str, Callable[[BasinStore, int | None, int], tuple[np.ndarray | None, list[str]]]
] = {
    "physics": _physics,
    "gaussian": _gaussian,
    "mixed": _mixed,
    "one_hot": _one_hot,
    "none": _none,
}


def _check(kind: str, dim: int | None, attr_seed: int) -> None:
    if kind not in STATIC_BUILDERS:
        raise ConfigError(
            f"unknown static kind {kind!r}: choose one of {', '.join(STATIC_BUILDERS)}"
        )
    if kind in ("gaussian", "mixed"):
        if not 0 <= attr_seed < 2**32:
            raise ConfigError(
                f"attr_seed must be in 0..2**32-1 (numpy's legacy seed range), got {attr_seed}"
            )
        if dim is None:
            raise ConfigError(
                f"static kind {kind!r} needs a dimension: pass --dim D (e.g. --dim 64)"
            )
        if kind == "gaussian" and dim < 1:
            raise ConfigError(f"--dim must be positive, got {dim}")
        if kind == "mixed" and dim <= len(DESCRIPTORS):
            raise ConfigError(
                f"mixed vectors hold the 27 descriptors plus at least one Gaussian column: "
                f"--dim must be >= 28, got {dim}"
            )


def build_statics(
    kind: str, store: BasinStore, dim: int | None = None, attr_seed: int = 0
) -> StaticVectors:
    """Static vectors of ``kind`` for the basins of ``store``.

    Parameters
    ----------
    kind : physics, gaussian, mixed, one_hot or none
    store : the (training) store; its basins fix the rows and the standardisation
    dim : width of gaussian (>= 1) and mixed (>= 28) vectors; ignored by the other kinds
    attr_seed : seed of the Gaussian columns (legacy ``np.random.seed``, as the original code)
    """
    _check(kind, dim, int(attr_seed))
    values, names = STATIC_BUILDERS[kind](store, dim, int(attr_seed))
    if values is not None:
        values = np.ascontiguousarray(values, dtype=np.float32)
    return StaticVectors(
        kind=kind,
        basins=list(store.basins),
        values=values,
        names=names,
        dim=0 if values is None else values.shape[1],
    )
