"""The bookkeeping of applied rows: one table per CD2 table (``cd2_rows_<table>``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from reportcard.db.cd2_tables import CD2_TABLE_NAMES, cd2_rows_tables, rows_table
from reportcard.lms.cd2.importer import import_paths
from reportcard.lms.cd2.mapping import TABLES
from tests.lms.cd2 import files as f
from tests.lms.cd2.files import TS0, TS1, TS2
from tests.lms.cd2.institution import STAMP, USERS, write_snapshot
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


@pytest.mark.parametrize("tie", [False, True])
def test_a_first_load_from_tsv_with_a_key_twice_keeps_the_newest(
    engine: Engine, tmp_path: Path, tie: bool
) -> None:
    """The same from TSV, over two files (PostgreSQL stages a first load without arrival
    order, finds the key twice and stages the files again, ordered): the newest ``meta.ts``
    wins, and on a tie the record that came later (the second file's)."""
    root = {"workflow_state": "active", "default_time_zone": "America/Denver", **STAMP}
    table = tmp_path / "accounts"
    f.write(table / "part-0.tsv", f.tsv([{"id": 1, "ts": TS1, "name": "A", **root}]))
    f.write(
        table / "part-1.tsv", f.tsv([{"id": 1, "ts": TS1 if tie else TS0, "name": "B", **root}])
    )
    result = import_paths(engine, [table], snapshot=True)
    (summary,) = result.tables
    assert (summary.records, summary.upserted, summary.unchanged) == (2, 1, 1)
    assert rows(engine, "SELECT id, name FROM accounts") == [(1, "B" if tie else "A")]
    assert rows(engine, "SELECT key, deleted FROM cd2_rows_accounts") == [(1, False)]


def test_a_first_load_stages_without_arrival_order(engine: Engine, tmp_path: Path) -> None:
    """PostgreSQL: a snapshot's first load of a table stages its TSV without ``seq`` (a
    ``nextval`` per record) and typed (see the next test), an incremental's staging numbers
    its records and keeps them text."""
    from reportcard.lms.cd2 import importer

    made: list[bool] = []
    original = importer.create_stage

    def noted(conn, t, *, ordered=True, typed=False):  # type: ignore[no-untyped-def]
        assert typed is not ordered
        made.append(ordered)
        original(conn, t, ordered=ordered, typed=typed)

    root = {"workflow_state": "active", "default_time_zone": "America/Denver", **STAMP}
    table = tmp_path / "accounts"
    f.write(table / "part-0.tsv", f.tsv([{"id": 1, "ts": TS1, "name": "A", **root}]))
    mp = pytest.MonkeyPatch()
    mp.setattr(importer, "create_stage", noted)
    try:
        import_paths(engine, [table], snapshot=True)
        import_paths(engine, [table], snapshot=True)
        import_paths(engine, [table])
    finally:
        mp.undo()
    first = engine.dialect.name != "postgresql"
    assert made == [first, True, True]


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


def test_the_targets_leave_room_for_an_incremental(engine: Engine) -> None:
    """PostgreSQL fills the pages of every table a CD2 load writes to nine tenths, so an
    incremental's change of a column no index reads (a new ``updated_at``) is a HOT update: the
    big ones (enrollments, scores, submissions) and the smaller ones (users, logins, course
    files, memberships...), whose updates otherwise wrote an entry in every index."""
    if engine.dialect.name != "postgresql":
        pytest.skip("fillfactor is PostgreSQL's")
    targets = sorted({g.table for t in TABLES for g in t.targets})
    assert {"enrollments", "scores", "submissions", "users", "pseudonyms"} <= set(targets)
    with engine.connect() as conn:
        options = conn.execute(
            text(
                "SELECT relname, reloptions FROM pg_class WHERE relname = ANY(:t)"
                " AND relkind = 'r' ORDER BY relname"
            ),
            {"t": targets},
        ).all()
    assert [tuple(r) for r in options] == [(name, ["fillfactor=90"]) for name in targets]


def _users(path: Path, ts: str, name: str) -> Path:
    record = {"id": 100, "ts": ts, "name": name, "workflow_state": "registered", **STAMP}
    return f.write(path / "users.jsonl", f.jsonl([record]))


def test_incrementals_bookkeeping_is_folded_back(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An incremental keeping ``cd2_rows_recent`` within 1/FOLD_SHARE of the table writes
    there; its rows win over the table's own; a load passing the share, and a snapshot, fold
    them back (the newer version stays); ``cd2 status``'s live rows count them once."""
    from reportcard.lms.cd2 import apply

    import_paths(engine, [write_snapshot(tmp_path)], snapshot=True)
    booked = "SELECT key, ts, deleted FROM cd2_rows_users WHERE key = 100"
    recent = "SELECT cd2_table, key, deleted FROM cd2_rows_recent"
    snapshot_ts = rows(engine, booked)[0][1]
    monkeypatch.setattr(apply, "FOLD_SHARE", 0)  # always within the share
    import_paths(engine, [_users(tmp_path / "a", TS2, "Ann Two")], table="users")
    assert rows(engine, recent) == [("users", 100, False)]
    assert rows(engine, booked)[0][1] == snapshot_ts  # the table's own is left as it was
    # Newer than the table's own bookkeeping, older than the recent one: not applied.
    again = import_paths(engine, [_users(tmp_path / "b", TS1, "Ann One")], table="users")
    assert (again.tables[0].upserted, again.tables[0].unchanged) == (0, 1)
    assert rows(engine, "SELECT name FROM users WHERE id = 100") == [("Ann Two",)]
    # Live rows counted afresh (a table without its state row) count the key once.
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM cd2_table_state WHERE table_name = 'users'")
    import_paths(
        engine, [_users(tmp_path / "c", "2024-05-04T00:00:00Z", "Ann Four")], table="users"
    )
    assert rows(engine, recent) == [("users", 100, False)]
    total = "SELECT rows_total FROM cd2_table_state WHERE table_name = 'users'"
    assert rows(engine, total) == rows(
        engine, "SELECT COUNT(*) FROM cd2_rows_users WHERE NOT deleted"
    )
    # Past the share: folded, then the newer winner written over it.
    monkeypatch.setattr(apply, "FOLD_SHARE", 8)
    import_paths(
        engine, [_users(tmp_path / "d", "2024-05-05T00:00:00Z", "Ann Five")], table="users"
    )
    assert rows(engine, recent) == []
    assert str(rows(engine, booked)[0][1]).startswith("2024-05-05")
    # A snapshot folds first: its removals read the table's own bookkeeping.
    monkeypatch.setattr(apply, "FOLD_SHARE", 0)
    import_paths(engine, [_users(tmp_path / "e", "2024-05-06T00:00:00Z", "Ann Six")], table="users")
    assert rows(engine, recent) == [("users", 100, False)]
    # The whole table again, as the snapshot had it (100's record is older than its recent row).
    snap = import_paths(
        engine,
        [f.write(tmp_path / "f" / "users.jsonl", f.jsonl(USERS))],
        table="users",
        snapshot=True,
    )
    assert rows(engine, recent) == []
    assert str(rows(engine, booked)[0][1]).startswith("2024-05-06")
    assert (snap.tables[0].upserted, snap.tables[0].unchanged) == (0, 3)
    assert rows(engine, "SELECT name FROM users WHERE id = 100") == [("Ann Six",)]


def test_a_first_load_stages_its_typed_fields_typed(engine: Engine, tmp_path: Path) -> None:
    """PostgreSQL: a snapshot's first load of a table stages the key and its integer fields
    as ``bigint`` (the ``COPY`` types them; the apply's casts are then no-ops), its text and
    timestamps as text; the second snapshot (rows applied before) stages text throughout.
    The rows applied are the same either way."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's staging is typed in Python")
    from reportcard.lms.cd2 import importer
    from reportcard.lms.cd2.staging import stage_name

    seen: list[dict[str, str]] = []
    original = importer.stage_file

    def noted(conn, t, path):  # type: ignore[no-untyped-def]
        fmt = original(conn, t, path)
        found = conn.exec_driver_sql(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
            f" WHERE attrelid = '{stage_name(t)}'::regclass AND attnum > 0"
            " AND attname IN ('key', 'ts', 'value.parent_account_id', 'value.name')"
        ).all()
        seen.append({str(name): str(kind) for name, kind in found})
        return fmt

    root = {"workflow_state": "active", "default_time_zone": "America/Denver", **STAMP}
    table = tmp_path / "accounts"
    f.write(
        table / "part-0.tsv",
        f.tsv(
            [
                {"id": 1, "ts": TS1, "name": "Root", **root},
                {"id": 2, "ts": TS1, "name": "Sub", "parent_account_id": 1, **root},
            ]
        ),
    )
    mp = pytest.MonkeyPatch()
    mp.setattr(importer, "stage_file", noted)
    try:
        import_paths(engine, [table], snapshot=True)
        first = rows(engine, "SELECT id, parent_account_id, name, created_at FROM accounts")
        import_paths(engine, [table], snapshot=True)
    finally:
        mp.undo()
    typed = {"key": "bigint", "ts": "text", "value.parent_account_id": "bigint"}
    assert seen == [{**typed, "value.name": "text"}, dict.fromkeys(seen[1], "text")]
    assert len(seen[1]) == 4
    assert first == rows(engine, "SELECT id, parent_account_id, name, created_at FROM accounts")
    assert [r[:3] for r in first] == [(1, None, "Root"), (2, 1, "Sub")]


@pytest.mark.parametrize("fmt", ["tsv", "jsonl"])
def test_a_first_load_names_a_value_its_typed_staging_refuses(
    engine: Engine, tmp_path: Path, fmt: str
) -> None:
    """A first load's typed staging refuses an integer field that is not one (on PostgreSQL
    in the ``COPY``, or the JSONL staging's insert): nothing is applied and the record is
    named by file, line and field, as when the apply's cast refused it."""
    from reportcard.lms.cd2.errors import Cd2Error

    root = {"workflow_state": "active", "default_time_zone": "America/Denver", **STAMP}
    writer = {"tsv": f.tsv, "jsonl": f.jsonl}[fmt]
    path = f.write(
        tmp_path / "accounts" / f"part-0.{fmt}",
        writer(
            [
                {"id": 1, "ts": TS1, "name": "Root", **root},
                {"id": 2, "ts": TS1, "name": "Sub", "parent_account_id": "one", **root},
            ]
        ),
    )
    with pytest.raises(Cd2Error) as caught:
        import_paths(engine, [path.parent], snapshot=True)
    err = caught.value
    line = 2 if fmt == "jsonl" else 3  # a tabular file has a header line
    assert (err.table, err.file, err.line, err.field) == (
        "accounts",
        str(path),
        line,
        "value.parent_account_id",
    )
    assert "not an integer: 'one'" in str(err)
    assert rows(engine, "SELECT id FROM accounts") == []
    assert rows(engine, "SELECT key FROM cd2_rows_accounts") == []
