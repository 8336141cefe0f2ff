"""Basin list files: one basin id per line, blank lines and ``#`` comments skipped.

Ids are text of any form and length (``01022500``, ``camels_01022500``, ``GRDC_1159100``,
``camelsaus_102101A``): leading zeros and case are kept. Each dataset adds its own rule for what an
id looks like (:func:`read_basin_list`'s ``check``); a list shared by several datasets, or cut by
``rvhpc data subset``, is read with the plain rule here.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from rvhpc.errors import DataError


def plain_id(basin: str) -> bool:
    """Any id that can name a file: no whitespace, no path separator, not starting with a dot."""
    return (
        bool(basin)
        and not any(c.isspace() for c in basin)
        and "/" not in basin
        and ("\\" not in basin and not basin.startswith("."))
    )


def read_basin_list(
    path: str | os.PathLike,
    check: Callable[[str], bool] = plain_id,
    what: str = "basin id",
) -> list[str]:
    """The ids of a basin list file, in file order.

    Parameters
    ----------
    path : the list file
    check : the dataset's rule for an id (True when ``id`` is one)
    what : how an id is called in messages (``8-digit basin id``)

    Raises
    ------
    DataError
        A missing or empty list, a line that is not an id, or an id listed twice (naming the line).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: basin list not found")
    basins: list[str] = []
    first_line: dict[str, int] = {}
    for number, line in enumerate(
        path.read_text(encoding="utf-8", errors="replace").splitlines(), 1
    ):
        basin = line.strip()
        if not basin or basin.startswith("#"):
            continue
        if not check(basin):
            raise DataError(f"{path}:{number}: {basin!r} is not {_article(what)} {what}")
        if basin in first_line:
            raise DataError(
                f"{path}:{number}: basin {basin} is listed twice (first on line "
                f"{first_line[basin]}); remove the duplicate"
            )
        first_line[basin] = number
        basins.append(basin)
    if not basins:
        raise DataError(f"{path}: basin list is empty; put one {what} per line")
    return basins


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeio8" else "a"
