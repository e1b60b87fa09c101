"""The bookkeeping of applied rows: one table per CD2 table (``cd2_rows_<table>``)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from reportcard.db.cd2_tables import CD2_TABLE_NAMES, cd2_rows_tables, rows_table
from reportcard.lms.cd2.importer import import_paths
from reportcard.lms.cd2.mapping import TABLES
from tests.lms.cd2 import files as f
from tests.lms.cd2.files import TS0, TS1
from tests.lms.cd2.institution import STAMP
from tests.lms.cd2.test_import import rows


def test_one_bookkeeping_table_per_cd2_table() -> None:
    assert sorted(CD2_TABLE_NAMES) == sorted(t.name for t in TABLES)
    for name in CD2_TABLE_NAMES:
        table = cd2_rows_tables[name]
        assert table.name == rows_table(name)
        assert [c.name for c in table.primary_key.columns] == ["key"]


def test_a_first_load_with_a_key_twice_keeps_the_newest(engine: Engine, tmp_path: Path) -> None:
    """A table's first load whose files hold a key twice: the newest ``meta.ts`` wins (on
    PostgreSQL the first-load path finds the key twice and chooses the winners instead)."""
    root = {"workflow_state": "active", "default_time_zone": "America/Denver", **STAMP}
    path = f.write(
        tmp_path / "accounts" / "part-0.jsonl",
        f.jsonl(
            [
                {"id": 1, "ts": TS1, "name": "Newer", **root},
                {"id": 1, "ts": TS0, "name": "Older, later in the file", **root},
            ]
        ),
    )
    result = import_paths(engine, [path.parent], snapshot=True)
    (summary,) = result.tables
    assert (summary.records, summary.upserted, summary.unchanged) == (2, 1, 1)
    assert rows(engine, "SELECT id, name FROM accounts") == [(1, "Newer")]
    assert rows(engine, "SELECT key, deleted FROM cd2_rows_accounts") == [(1, False)]
    again = import_paths(engine, [path.parent], snapshot=True)
    assert (again.tables[0].upserted, again.tables[0].unchanged) == (0, 2)


def test_the_bookkeeping_leaves_room_for_an_incremental(engine: Engine, tmp_path: Path) -> None:
    """The key is SQLite's rowid (no second b-tree of the keys); PostgreSQL fills a page to
    nine tenths, so an incremental's new ``meta.ts`` is a HOT update (no new index entry)."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            options = conn.exec_driver_sql(
                "SELECT reloptions FROM pg_class WHERE relname = 'cd2_rows_scores'"
            ).scalar()
            assert options == ["fillfactor=90"]
        else:
            indexes = conn.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'index'"
                " AND tbl_name = 'cd2_rows_scores'"
            ).all()
            assert indexes == []
