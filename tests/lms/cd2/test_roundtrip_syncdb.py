"""Round trip through a database kept by ``dap initdb``/``dap syncdb`` (PostgreSQL lane only).

The synthetic institution (``small``; ``medium`` in ``make test-cd2``) is laid out as
``dap initdb`` lays out a snapshot
(tests/lms/cd2/syncdb_layout.py: schema ``canvas``, ENUM types, ``jsonb``, naive-UTC timestamps,
``instructure_dap.table_sync``), ``reportcard cd2 sync --from URL`` reads it into a fresh
database, and every report equals the original's except the columns CD2 cannot carry. Then
the layout is synced as ``dap syncdb`` does (changed rows upserted, purged rows deleted, every
table's position moved) and a second ``cd2 sync`` brings the reports to the changed original,
writing only the rows that changed. A SQLite reportcard database syncs from the same source.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, text

from reportcard.db.engine import dispose_all, make_engine
from tests.databases import PG_ADMIN_URL, drop_database, fresh_database_url, seeded_database_url
from tests.lms.cd2 import roundtrip as rt
from tests.lms.cd2.changes import apply_changes
from tests.lms.cd2.roundtrip import AFTER_CHANGES, INCREMENTAL_TS, SNAPSHOT_TS
from tests.lms.cd2.syncdb_layout import create_layout, dap_database, libpq_url, sync_layout

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not PG_ADMIN_URL, reason="needs PostgreSQL (REPORTCARD_TEST_POSTGRES)"),
]


@dataclass
class Synced:
    tmp: Path
    original: Engine
    original_url: str
    imported: Engine
    imported_url: str
    dap: str
    root: int
    settings: list[str]
    summary: dict[str, object]


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synced]:
    tmp = tmp_path_factory.mktemp("cd2-syncdb")
    original_url, result = seeded_database_url(tmp, rt.SIZE, 1)
    imported_url = fresh_database_url(tmp)
    original = make_engine(original_url)
    with dap_database(PG_ADMIN_URL) as dap:
        create_layout(original, dap, SNAPSHOT_TS)
        done = rt.invoke(["cd2", "sync", "--from", dap, "--json"], imported_url, tmp)
        assert done.exit_code == 0, done.output
        try:
            yield Synced(
                tmp,
                original,
                original_url,
                make_engine(imported_url),
                imported_url,
                dap,
                result.root_account_id,
                rt.settings_on(original, result.root_account_id),
                json.loads(done.output),
            )
        finally:
            dispose_all()
            drop_database(original_url)
            drop_database(imported_url)


def _compare(s: Synced, want: Engine, got: Engine, reports: set[str] | None) -> list[str]:
    return rt.compare(want, got, s.root, s.tmp, s.settings, reports)


def test_the_layout_is_the_one_dap_initdb_makes(synced: Synced) -> None:
    with psycopg.connect(libpq_url(synced.dap)) as conn:
        types = dict(
            conn.execute(
                "SELECT table_name || '.' || column_name, udt_schema || '.' || udt_name"
                " FROM information_schema.columns WHERE table_schema = 'canvas'"
                " AND table_name IN ('enrollments', 'courses', 'assignments')"
            ).fetchall()
        )
        labels = [
            r[0]
            for r in conn.execute(
                "SELECT unnest(enum_range(NULL::canvas.enrollments__workflow_state))::text"
            )
        ]
        synced_tables = conn.execute(
            "SELECT COUNT(*) FROM instructure_dap.table_sync WHERE target_schema = 'canvas'"
        ).fetchone()
    assert types["enrollments.type"] == "canvas.enrollments__type"
    assert types["enrollments.created_at"] == "pg_catalog.timestamp"
    assert types["courses.settings"] == "pg_catalog.jsonb"
    assert types["assignments.submission_types"] == "canvas._assignments__submission_types"
    assert "__dap_unspecified__" in labels and "active" in labels
    assert synced_tables is not None and synced_tables[0] > 40


def test_every_report_matches_the_original(synced: Synced) -> None:
    imported = {t["table"]: t for t in synced.summary["tables"]}  # type: ignore[attr-defined]
    with synced.original.connect() as conn:
        enrollments = conn.execute(text("SELECT count(*) FROM enrollments")).scalar_one()
    assert imported["enrollments"]["upserted"] == enrollments
    diffs = _compare(synced, synced.original, synced.imported, None)
    assert not diffs, "\n".join(diffs)


def test_a_sqlite_database_syncs_from_the_same_source(synced: Synced) -> None:
    url = f"sqlite:///{synced.tmp / 'synced.sqlite3'}"
    done = rt.invoke(["cd2", "sync", "--from", synced.dap, "--json"], url, synced.tmp)
    assert done.exit_code == 0, done.output
    reports = {"provisioning_csv", "last_user_access_csv", "lti_report_csv", "course_storage_csv"}
    diffs = _compare(synced, synced.original, make_engine(url), reports)
    assert not diffs, "\n".join(diffs)


def test_a_syncdb_run_is_applied_and_only_changed_rows_are_written(synced: Synced) -> None:
    changed_url, _ = seeded_database_url(synced.tmp, rt.SIZE, 1)
    try:
        changed = make_engine(changed_url)
        with changed.begin() as conn:
            apply_changes(conn, synced.root)
        counts = sync_layout(synced.original, changed, synced.dap, INCREMENTAL_TS)
        done = rt.invoke(
            ["cd2", "sync", "--from", synced.dap, "--json"], synced.imported_url, synced.tmp
        )
        assert done.exit_code == 0, done.output
        summary = json.loads(done.output)
        applied = {t["table"]: t for t in summary["tables"]}
        # Every table's position moved; those whose rows did not change wrote nothing.
        assert "submissions" in summary["unchanged"] and "submissions" not in counts
        for table, (ups, dels) in counts.items():
            if table in applied:
                assert applied[table]["upserted"] == ups, (table, applied[table], ups)
                assert applied[table]["deleted"] == dels, (table, applied[table], dels)
        assert applied["group_memberships"]["deleted"] > 0
        diffs = _compare(synced, changed, synced.imported, AFTER_CHANGES)
        assert not diffs, "\n".join(diffs)
        again = rt.invoke(
            ["cd2", "sync", "--from", synced.dap, "--json"], synced.imported_url, synced.tmp
        )
        assert again.exit_code == 0, again.output
        assert json.loads(again.output)["tables"] == []
    finally:
        dispose_all()
        drop_database(changed_url)


def test_the_older_clients_dap_meta_is_read(synced: Synced) -> None:
    tables = ["accounts", "users", "pseudonyms"]
    create_layout(synced.original, synced.dap, SNAPSHOT_TS, schema="legacy", tables=tables,
                  legacy=True)  # fmt: skip
    url = f"sqlite:///{synced.tmp / 'legacy.sqlite3'}"
    done = rt.invoke(
        ["cd2", "sync", "--from", synced.dap, "--schema", "legacy", "--json"], url, synced.tmp
    )
    assert done.exit_code == 0, done.output
    summary = json.loads(done.output)
    assert [t["table"] for t in summary["tables"]] == tables
    assert "enrollments" in summary["not_replicated"]
    with make_engine(url).connect() as conn:
        got = conn.execute(text("SELECT COUNT(*) FROM pseudonyms")).scalar_one()
    with synced.original.connect() as conn:
        want = conn.execute(text("SELECT COUNT(*) FROM pseudonyms")).scalar_one()
    assert got == want


def test_a_source_without_dap_metadata_is_refused(synced: Synced) -> None:
    url = f"sqlite:///{synced.tmp / 'refused.sqlite3'}"
    done = rt.invoke(["cd2", "sync", "--from", synced.original_url, "--json"], url, synced.tmp)
    assert done.exit_code == 2
    assert "instructure_dap.table_sync" in done.output
    bad = rt.invoke(["cd2", "sync", "--from", "mysql://x@y/z"], url, synced.tmp)
    assert bad.exit_code == 2 and "PostgreSQL" in bad.output
