"""Read one plain table of an SQLite file that rvhpc did not write, with bounded time and memory.

A run directory of the original code holds ``attributes.db``; a crafted one (4 KB: a view named
like the table, over an infinite recursive query) made ``evaluate --reference-run`` grow without
bound. So only a plain table is read (``sqlite_master`` type ``table``, not a view or a virtual
table), the file is opened read-only, and SQLite's own limits stop anything that runs long or big:
at most :data:`MAX_ROWS` rows, values of at most :data:`MAX_VALUE_BYTES` (a generated column can
build a huge string), and a progress handler that interrupts after :data:`MAX_STEPS` virtual
machine instructions or :data:`MAX_SECONDS` seconds. Reading the 531-basin table of the paper
takes about 0.1 % of that instruction budget.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from pathlib import Path

import pandas as pd

from rvhpc.errors import ConfigError

#: rows read at most (CAMELS US has 671 basins, Caravan about 22,000)
MAX_ROWS = 100_000
#: the longest text or blob value SQLite may build while reading
MAX_VALUE_BYTES = 1 << 20
#: SQLite virtual-machine instructions before the read is interrupted
MAX_STEPS = 200_000_000
#: seconds before the read is interrupted
MAX_SECONDS = 30.0
#: instructions between two calls of the progress handler
_EVERY = 10_000


def read_plain_table(db: Path, table: str, what: str) -> pd.DataFrame:
    """All rows of the plain table ``table`` of the SQLite file ``db``, in file order.

    Parameters
    ----------
    db : Path
        The SQLite file (opened read-only; never written).
    table : str
        The table's name.
    what : str
        How the error names the file (``--reference-run DIR: attributes.db``).

    Returns
    -------
    pandas.DataFrame
        The table's columns and rows.

    Raises
    ------
    ConfigError
        One line: no such plain table (a view or virtual table is refused), more than MAX_ROWS
        rows, a value over MAX_VALUE_BYTES, a read interrupted by the instruction or time limit,
        or a file SQLite cannot read.
    """
    uri = f"{Path(db).resolve().as_uri()}?mode=ro"
    try:
        with closing(sqlite3.connect(uri, uri=True)) as conn:
            conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
            _limit_work(conn)
            rows = conn.execute(
                "SELECT type, sql FROM sqlite_master WHERE name = ? COLLATE NOCASE", (table,)
            ).fetchall()
            kinds = {kind for kind, _ in rows}
            plain = [sql for kind, sql in rows if kind == "table"]
            virtual = bool(plain) and str(plain[0]).lstrip().upper().startswith("CREATE VIRTUAL")
            if not plain or virtual:
                kind = "virtual table" if virtual else ", ".join(sorted(kinds))
                found = f" ({table} is a {kind}; rvhpc reads plain tables only)" if kinds else ""
                raise ConfigError(f"{what} has no readable table {table}{found}")
            quoted = '"' + table.replace('"', '""') + '"'
            frame = pd.read_sql(f"SELECT * FROM {quoted} LIMIT {MAX_ROWS + 1}", conn)
    except (sqlite3.Error, pd.errors.DatabaseError) as exc:
        reason = " ".join(str(exc).split())[:160]
        if "interrupted" in reason:
            reason = (
                f"reading it took more than {MAX_STEPS:,} SQLite steps or {MAX_SECONDS:.0f} s; "
                "is it the file the original code wrote?"
            )
        raise ConfigError(f"{what} has no readable table {table} ({reason})") from None
    if len(frame) > MAX_ROWS:
        raise ConfigError(f"{what}: table {table} holds more than {MAX_ROWS:,} rows")
    return frame


def _limit_work(conn: sqlite3.Connection) -> None:
    """Interrupt any statement of ``conn`` after MAX_STEPS instructions or MAX_SECONDS."""
    deadline = time.monotonic() + MAX_SECONDS
    calls = [0]

    def check() -> int:
        calls[0] += 1
        return int(calls[0] * _EVERY > MAX_STEPS or time.monotonic() > deadline)

    conn.set_progress_handler(check, _EVERY)
