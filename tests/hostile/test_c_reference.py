"""Issue 19, items 12 and 13: a crafted reference run. A 4 KB ``attributes.db`` whose
``basin_attributes`` is a view over an infinite recursive query made ``evaluate --reference-run``
grow without bound; ``cfg.json`` flags given as the string "false" counted as true and the error
blamed the weights. Each is refused with one short line naming the file (and key), within the
test's memory limit and timeout."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from rvhpc.data.store import open_store
from tests.hostile._c_support import bounded, refused
from tests.training.original_run import original_cfg, original_table, write_original_run

#: a query that never ends and grows: every row spawns two
_ENDLESS = (
    "WITH RECURSIVE r(n, s) AS (SELECT 1, 'x' UNION ALL "
    "SELECT n + 1, s || s FROM r, (SELECT 1 UNION ALL SELECT 2)) SELECT * FROM r"
)


@pytest.fixture
def reference_run(tmp_path, tiny_camels, tiny_store) -> Path:
    """An original run directory (EA, physics) that scores fine as written."""
    basins = open_store(tiny_store).basins
    table = original_table(tiny_camels.root, basins, "physics", None, None)
    run_dir = tmp_path / "orig"
    write_original_run(run_dir, table, original_cfg("physics", "ea", seq_length=30), "ea", 27)
    return run_dir


def _replace_db(run_dir: Path, *statements: str) -> None:
    db = run_dir / "attributes.db"
    db.unlink()
    with sqlite3.connect(db) as conn:
        for statement in statements:
            conn.execute(statement)


DATABASES = {
    "a view over an endless recursive query": (
        (f"CREATE VIEW basin_attributes AS {_ENDLESS}",),
        "is a view",
    ),
    "a view over a plain table": (
        (
            "CREATE TABLE t(gauge_id TEXT, p_mean REAL)",
            "INSERT INTO t VALUES ('01', 1.0)",
            "CREATE VIEW basin_attributes AS SELECT * FROM t",
        ),
        "plain tables only",
    ),
    "a generated column of 500 MB per row": (
        (
            "CREATE TABLE basin_attributes(gauge_id TEXT, big BLOB AS (zeroblob(500000000)))",
            "INSERT INTO basin_attributes(gauge_id) VALUES ('01')",
        ),
        "too big",
    ),
    "a table of 200,000 rows": (
        (
            "CREATE TABLE basin_attributes(gauge_id TEXT, p_mean REAL)",
            "INSERT INTO basin_attributes WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL "
            "SELECT n + 1 FROM r WHERE n < 200000) SELECT n, 1.0 FROM r",
        ),
        "more than 100,000 rows",
    ),
    "no such table, a trigger instead": (
        (
            "CREATE TABLE x(a)",
            "CREATE TRIGGER basin_attributes AFTER INSERT ON x BEGIN SELECT 1; END",
        ),
        "is a trigger",
    ),
    "a virtual table": (
        ("CREATE VIRTUAL TABLE basin_attributes USING fts5(gauge_id, p_mean)",),
        "is a virtual table",
    ),
    "not an SQLite file": ((), "no readable table"),
}


@pytest.mark.parametrize("case", list(DATABASES))
def test_crafted_attributes_db_is_refused(reference_run, tiny_store, tmp_path, case) -> None:
    statements, needle = DATABASES[case]
    if statements:
        _replace_db(reference_run, *statements)
    else:
        (reference_run / "attributes.db").write_bytes(b"SQLite format 2\x00" + b"\xff" * 4096)
    run = bounded(
        "evaluate", "--reference-run", reference_run, "--store", tiny_store,
        "--out", tmp_path / "ev", "--device", "cpu", timeout=120,
    )  # fmt: skip
    refused(run, "attributes.db", needle)
    assert not (tmp_path / "ev" / "predictions.parquet").exists()


def _edit_cfg(run_dir: Path, text: str | None = None, **changes) -> None:
    path = run_dir / "cfg.json"
    if text is not None:
        path.write_text(text)
        return
    cfg = json.loads(path.read_text())
    cfg.update(changes)
    path.write_text(json.dumps(cfg))


CFGS = {
    'concat_static: "false"': (dict(concat_static="false"), "concat_static"),
    'FM_LSTM: "true"': (dict(FM_LSTM="true"), "FM_LSTM"),
    "no_static: 0": (dict(no_static=0), "no_static"),
    "one_hot: null": (dict(one_hot=None), "one_hot"),
    "seq_length: true": (dict(seq_length=True), "seq_length"),
    "seq_length 1e9": (dict(seq_length=10**9), "seq_length"),
    "rand_feat_num: true": (dict(rand_feat_num=True), "rand_feat_num"),
    "train_start of 10,000 characters": (dict(train_start="1" * 10_000), "DDMMYYYY"),
    "JSON nested 100,000 deep": ("[" * 100_000 + "]" * 100_000, "not readable JSON"),
    "a 2 MB cfg.json": ('{"a": "' + "x" * (2 << 20) + '"}', "larger than"),
}


@pytest.mark.parametrize("case", list(CFGS))
def test_bad_cfg_json_names_the_file_and_key(reference_run, tiny_store, tmp_path, case) -> None:
    change, needle = CFGS[case]
    if isinstance(change, str):
        _edit_cfg(reference_run, change)
    else:
        _edit_cfg(reference_run, **change)
    run = bounded(
        "evaluate", "--reference-run", reference_run, "--store", tiny_store,
        "--out", tmp_path / "ev", "--device", "cpu", timeout=120,
    )  # fmt: skip
    line = refused(run, "cfg.json", needle)
    assert "weights" not in line and "model_epoch" not in line


def test_a_read_that_runs_long_is_interrupted(tmp_path: Path, monkeypatch) -> None:
    """The progress handler stops any statement after its instruction budget (here lowered to
    what 100,000 rows need), with one line."""
    from rvhpc.errors import ConfigError
    from rvhpc.evaluation import sqlite_table

    db = tmp_path / "attributes.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE basin_attributes(gauge_id TEXT, p_mean REAL)")
        conn.execute(
            "INSERT INTO basin_attributes WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL "
            "SELECT n + 1 FROM r WHERE n < 100000) SELECT n, 1.0 FROM r"
        )
    assert len(sqlite_table.read_plain_table(db, "basin_attributes", "db")) == 100_000
    monkeypatch.setattr(sqlite_table, "MAX_STEPS", 50_000)
    with pytest.raises(ConfigError, match="took more than 50,000 SQLite steps") as exc:
        sqlite_table.read_plain_table(db, "basin_attributes", "db")
    assert "\n" not in str(exc.value)
