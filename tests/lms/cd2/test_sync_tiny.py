"""``reportcard cd2 sync`` on the ``tiny`` institution: the quick check of the sync path (the
``medium`` round trip in test_roundtrip_syncdb.py is the thorough one). PostgreSQL lane only:
the source is a dap-synced PostgreSQL database; the target is the lane's database and SQLite."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from reportcard.db.engine import dispose_all, make_engine
from tests.databases import PG_ADMIN_URL, drop_database, fresh_database_url, seeded_database_url
from tests.lms.cd2 import roundtrip as rt
from tests.lms.cd2.roundtrip import INCREMENTAL_TS, SNAPSHOT_TS
from tests.lms.cd2.syncdb_layout import create_layout, dap_database, sync_layout

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not PG_ADMIN_URL, reason="needs PostgreSQL (REPORTCARD_TEST_POSTGRES)"),
]


@pytest.mark.parametrize("target", ["lane", "sqlite"])
def test_sync_then_syncdb_then_sync(tmp_path: Path, target: str) -> None:
    original_url, result = seeded_database_url(tmp_path, "tiny", 1)
    changed_url, _ = seeded_database_url(tmp_path, "tiny", 1)
    url = fresh_database_url(tmp_path) if target == "lane" else f"sqlite:///{tmp_path}/t.sqlite3"
    root = result.root_account_id
    try:
        original, changed = make_engine(original_url), make_engine(changed_url)
        with dap_database(PG_ADMIN_URL) as dap:
            create_layout(original, dap, SNAPSHOT_TS)
            first = rt.invoke(["cd2", "sync", "--from", dap, "--json"], url, tmp_path)
            assert first.exit_code == 0, first.output
            assert json.loads(first.output)["root_account_id"] == root
            settings = rt.settings_on(original, root)
            diffs = rt.compare(original, make_engine(url), root, tmp_path, settings)
            assert not diffs, "\n".join(diffs)
            with changed.begin() as conn:
                conn.execute(text("UPDATE users SET name = 'Renamed' WHERE id = 7"))
                conn.execute(text("DELETE FROM group_memberships WHERE id = 1"))
                conn.execute(text("UPDATE enrollments SET workflow_state = 'deleted' WHERE id = 3"))
            counts = sync_layout(original, changed, dap, INCREMENTAL_TS)
            assert counts["users"] == (1, 0) and counts["group_memberships"] == (0, 1)
            second = rt.invoke(["cd2", "sync", "--from", dap, "--json"], url, tmp_path)
            assert second.exit_code == 0, second.output
            applied = {t["table"]: t for t in json.loads(second.output)["tables"]}
            assert set(applied) == {"users", "group_memberships", "enrollments"}, applied
            assert applied["users"]["upserted"] == 1
            assert applied["group_memberships"]["deleted"] == 1
            diffs = rt.compare(changed, make_engine(url), root, tmp_path, settings)
            assert not diffs, "\n".join(diffs)
            status = rt.invoke(["cd2", "status", "--json"], url, tmp_path)
            users = next(s for s in json.loads(status.output) if s["table"] == "users")
            assert users["source"].startswith("sync postgresql://")
            assert users["last_ts"] == "2026-11-03T10:00:00Z"
    finally:
        dispose_all()
        for u in (original_url, changed_url, url):
            drop_database(u)
