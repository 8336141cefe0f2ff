"""Static vectors x_s that tell the global model which basin it sees (reference.md section 3).

:data:`STATIC_KINDS` is the one table of kinds: each with its builder, whether it takes a
dimension and the smallest one, its width, its folder and letter in the original code's layout and
names, and what a basin the model never saw gets. ``physics`` is the store's descriptors (the 27
CAMELS US descriptors, or a Caravan store's, see docs/real-run.md), ``gaussian`` d random columns
drawn with ``attr_seed``, ``mixed`` the descriptors + (d - descriptors) random columns, ``one_hot``
the identity (not standardised) and ``none`` nothing. All but one_hot are standardised across the
store's (training) basins with :func:`standardise`; rows follow the store's basin order, and the
same arguments always give the same vectors.

The random columns are the original code's draw (``add_camels_attributes`` in its
``papercode/datautils.py``): ``np.random.seed(attr_seed)`` and then one
``np.random.normal(0, 1, size=(n_basins, d))`` call (mixed: ``d - descriptors`` columns) from
numpy's legacy global generator, rows in basin-list order. rvhpc draws from its own
``np.random.RandomState(attr_seed)``, which yields the same stream without touching numpy's global
state, so for one basin list and attr_seed the vectors equal those of a run of the original code,
for 531 basins as for 6,830. (rvhpc up to 0.1.0 drew with ``np.random.default_rng``: the same
attr_seed gave other vectors.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rvhpc.data.store import BasinStore
from rvhpc.errors import ConfigError

Builder = Callable[[BasinStore, "int | None", int], "tuple[np.ndarray | None, list[str]]"]


@dataclass(frozen=True)
class StaticKind:
    """One static kind: how it is built, sized and named (see :data:`STATIC_KINDS`)."""

    build: Builder
    takes_dim: bool  # the width is the dimension d given with it
    descriptors: bool  # holds the store's descriptors (a mixed d must leave room for one draw)
    per_basin: bool  # one column per basin (one_hot)
    dirname: str  # folder in the original code's results layout (reference.md section 5)
    letter: str  # letter in the paper's experiment names (EP, EG-64, EO, EM-64)
    unseen: str  # what a held-out basin's vector is (PUB results are labelled with it)

    def min_dim(self, n_descriptors: int) -> int:
        """The smallest dimension: descriptors + 1 for mixed vectors, else 1."""
        return n_descriptors + 1 if self.takes_dim and self.descriptors else 1

    def width(self, dim: int | None, n_basins: int, n_descriptors: int) -> int:
        """Columns of the vectors."""
        if self.takes_dim:
            return int(dim or 0)
        if self.per_basin:
            return n_basins
        return n_descriptors if self.descriptors else 0


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


def column_stats(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column mean and std (ddof=1; a zero or undefined std becomes 1), computed by pandas as the
    original code's ``CamelsH5._load_attributes`` did. The one standardisation of rvhpc: training
    vectors, held-out basins' vectors and the original code's runs all use it (pandas sums a column
    in another order than numpy along axis 0, so a numpy version would differ in the last bits)."""
    frame = pd.DataFrame(np.asarray(values, dtype=np.float64))
    mean = frame.mean()
    std = frame.std() if len(frame) > 1 else pd.Series(1.0, index=frame.columns)
    std[~(np.isfinite(std) & (std > 0))] = 1.0
    return mean.to_numpy(np.float64), std.to_numpy(np.float64)


def standardise(values: np.ndarray, stats: tuple | None = None) -> np.ndarray:
    """Column-wise (x - mean) / std with :func:`column_stats` of ``values`` (or ``stats``, the
    training basins' for held-out ones)."""
    mean, std = column_stats(values) if stats is None else stats
    return (np.asarray(values, dtype=np.float64) - mean) / std


def gaussian_draw(n: int, d: int, attr_seed: int) -> np.ndarray:
    """The original code's random columns: ``np.random.seed(attr_seed)`` then
    ``np.random.normal(0, 1, size=(n, d))``, from a private legacy ``RandomState`` (same stream,
    numpy's global state untouched)."""
    return np.random.RandomState(attr_seed).normal(0, 1, size=(n, d))


def _random_names(d: int) -> list[str]:
    return [f"rv_{k:03d}" for k in range(d)]


def _names(store: BasinStore) -> list[str]:
    return list(store.descriptor_names) or [f"d_{k:02d}" for k in range(store.descriptors.shape[1])]


def _physics(store: BasinStore, dim: int | None, attr_seed: int):
    return standardise(store.descriptors), _names(store)


def _gaussian(store: BasinStore, dim: int | None, attr_seed: int):
    return standardise(gaussian_draw(len(store.basins), dim, attr_seed)), _random_names(dim)


def _mixed(store: BasinStore, dim: int | None, attr_seed: int):
    n_desc = store.descriptors.shape[1]
    extra = gaussian_draw(len(store.basins), dim - n_desc, attr_seed)
    values = np.concatenate([store.descriptors, extra], axis=1)
    return standardise(values), _names(store) + _random_names(dim - n_desc)


def _one_hot(store: BasinStore, dim: int | None, attr_seed: int):
    # float32 from the start: 6,830 basins are 187 MB, not 373 MB twice
    return np.eye(len(store.basins), dtype=np.float32), [f"basin_{b}" for b in store.basins]


def _none(store: BasinStore, dim: int | None, attr_seed: int):
    return None, []


#: kind name -> its builder(store, dim, attr_seed) -> (values or None, column names) and rules
STATIC_KINDS: dict[str, StaticKind] = {
    "physics": StaticKind(
        _physics, False, True, False, "physics", "P",
        "descriptors standardised with training-basin statistics",
    ),
    "gaussian": StaticKind(
        _gaussian, True, False, False, "num_of_sf", "G",
        "fresh random draw (no learned vector for an unseen basin)",
    ),
    "mixed": StaticKind(
        _mixed, True, True, False, "mixed", "M",
        "descriptors with training-basin statistics + fresh random columns",
    ),
    "one_hot": StaticKind(
        _one_hot, False, False, True, "one_hot", "O", "zero vector (unknown basin)"
    ),
    "none": StaticKind(_none, False, False, False, "no_static", "", "no static vector"),
}  # fmt: skip
#: what a held-out basin's static vector is, per kind
UNSEEN_STATIC = {name: kind.unseen for name, kind in STATIC_KINDS.items()}


def check_kind(
    kind: str, dim: int | None, attr_seed: int = 0, n_descriptors: int | None = None
) -> None:
    """The one check of a static kind with its dimension and draw (ConfigError, one line).
    ``n_descriptors`` (the store's) bounds mixed vectors; None leaves that check to the build."""
    if kind not in STATIC_KINDS:
        raise ConfigError(f"unknown static kind {kind!r}: choose one of {', '.join(STATIC_KINDS)}")
    spec = STATIC_KINDS[kind]
    if not spec.takes_dim:
        if dim is not None:
            raise ConfigError(f"static kind {kind!r} takes no dimension: drop --dim {dim}")
        return
    if not 0 <= attr_seed < 2**32:
        raise ConfigError(
            f"attr_seed must be in 0..2**32-1 (numpy's legacy seed range), got {attr_seed}"
        )
    if dim is None:
        raise ConfigError(f"static kind {kind!r} needs a dimension: pass --dim D (e.g. --dim 64)")
    if dim < 1:
        raise ConfigError(f"--dim must be positive, got {dim}")
    if n_descriptors is not None and dim < spec.min_dim(n_descriptors):
        raise ConfigError(
            f"mixed vectors hold the {n_descriptors} descriptors plus at least one Gaussian "
            f"column: --dim must be >= {n_descriptors + 1}, got {dim}"
        )


def build_statics(
    kind: str, store: BasinStore, dim: int | None = None, attr_seed: int = 0
) -> StaticVectors:
    """Static vectors of ``kind`` for the basins of ``store``.

    Parameters
    ----------
    kind : a key of :data:`STATIC_KINDS`
    store : the (training) store; its basins fix the rows and the standardisation
    dim : width of gaussian (>= 1) and mixed (> descriptors) vectors; None for the other kinds
    attr_seed : seed of the Gaussian columns (legacy ``np.random.seed``, as the original code)

    Raises
    ------
    ConfigError
        An unknown kind, or a dimension or seed the kind cannot take.
    """
    check_kind(kind, dim, int(attr_seed), store.descriptors.shape[1])
    values, names = STATIC_KINDS[kind].build(store, dim, int(attr_seed))
    if values is not None:
        values = np.ascontiguousarray(values, dtype=np.float32)
    return StaticVectors(
        kind=kind,
        basins=list(store.basins),
        values=values,
        names=names,
        dim=0 if values is None else values.shape[1],
    )
