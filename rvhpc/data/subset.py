"""Random subsets of a basin list, for data-sparsity scenarios (``rvhpc data subset``).

One permutation of the list, drawn with ``numpy.random.default_rng(seed)``, orders the basins; a
subset of size n is the first n basins of that permutation, written in the list's own order. So
the same list, n and seed always give the same subset, and with one seed every smaller subset is
contained in every larger one: ``--nested`` writes such a chain at once.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rvhpc.atomic import write_text
from rvhpc.config_io import check_seed
from rvhpc.data.basinlist import read_basin_list
from rvhpc.errors import DataError


def subset(ids: list[str], n: int, seed: int) -> list[str]:
    """``n`` basins of ``ids`` (in list order): the first n of the seed's permutation.

    Parameters
    ----------
    ids : list[str]
        The basin list.
    n : int
        The subset size, 1 .. len(ids).
    seed : int
        Seed of the permutation (0 .. 2**32 - 1).

    Returns
    -------
    list[str]

    Raises
    ------
    ConfigError
        A seed outside numpy's legacy range.
    DataError
        A size outside 1 .. len(ids).
    """
    check_seed("--seed", seed)
    if not 1 <= n <= len(ids):
        raise DataError(f"--n {n}: choose between 1 and {len(ids)} (the basins in the list)")
    chosen = np.sort(np.random.default_rng(seed).permutation(len(ids))[:n])
    return [ids[i] for i in chosen]


def nested(ids: list[str], sizes: list[int], seed: int) -> dict[int, list[str]]:
    """Subsets of each size (ascending), each contained in the next larger one.

    Parameters
    ----------
    ids : list[str]
        The basin list.
    sizes : list[int]
        Distinct subset sizes.
    seed : int
        Seed of the one permutation they share.

    Returns
    -------
    dict[int, list[str]]
        Size -> subset, smallest first.

    Raises
    ------
    DataError, ConfigError
        Repeated sizes, a size out of range, a bad seed.
    """
    if len(set(sizes)) != len(sizes):
        raise DataError(f"--n: sizes repeat ({', '.join(map(str, sizes))}); give each once")
    return {n: subset(ids, n, seed) for n in sorted(sizes)}


def write_list(path: Path, basins: list[str]) -> Path:
    """A basin list file (one id per line), written atomically.

    Parameters
    ----------
    path : Path
        The file (its folder is made).
    basins : list[str]
        The ids.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, "".join(f"{b}\n" for b in basins))
    return path


def write_subsets(
    source: Path, sizes: list[int], seed: int, out: Path, chain: bool = False
) -> list[tuple[Path, int]]:
    """Write one subset to the file ``out``, or with ``chain`` one file per size into the folder
    ``out`` (``<list stem>-n<N>-s<seed>.txt``); returns (file, size) pairs, smallest first.

    Raises
    ------
    DataError
        Unreadable list, a size outside 1..len(list), several sizes without ``chain``, or
        ``out`` naming an existing file where a folder is needed (and the reverse).
    """
    ids = read_basin_list(source)
    if not sizes:
        raise DataError("--n: give the subset size (repeat --n with --nested)")
    if not chain:
        if len(sizes) > 1:
            raise DataError("several --n need --nested (a chain of subsets into a folder)")
        if out.is_dir():
            raise DataError(f"--out {out} is a folder; name the list file to write")
        return [(write_list(out, subset(ids, sizes[0], seed)), sizes[0])]
    if out.exists() and not out.is_dir():
        raise DataError(f"--out {out} is a file; --nested writes one file per size into a folder")
    stem = Path(source).stem
    return [
        (write_list(out / f"{stem}-n{n}-s{seed}.txt", basins), n)
        for n, basins in nested(ids, sizes, seed).items()
    ]
