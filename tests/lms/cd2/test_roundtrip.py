"""Round trip through CD2 files: the synthetic institution (``small``; ``medium`` in
``make test-cd2``) written out as a CD2 snapshot (tests/lms/cd2/export.py, from the spec),
``reportcard cd2 import``ed into a fresh database, gives every report the original gives,
cell for cell, except the columns CD2 cannot carry (tests/lms/cd2/gaps.py, the twin of
docs/canvas-data-2.md's list). Then an incremental (changed rows and purges) is imported and
the reports follow the original with the same changes applied directly.

Runs in both lanes (the fresh database is SQLite or PostgreSQL).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from reportcard.db.engine import dispose_all, make_engine
from tests.databases import drop_database, fresh_database_url, seeded_database_url
from tests.lms.cd2 import roundtrip as rt
from tests.lms.cd2.changes import apply_changes
from tests.lms.cd2.export import Layout, export_incremental, export_snapshot, read_jsonl
from tests.lms.cd2.roundtrip import AFTER_CHANGES, INCREMENTAL_TS, SNAPSHOT_TS

pytestmark = pytest.mark.slow


@dataclass
class Trip:
    tmp: Path
    original: Engine
    imported: Engine
    imported_url: str
    root: int
    settings: list[str]
    snapshot: Path
    summary: dict[str, object]


@pytest.fixture(scope="module")
def trip(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trip]:
    tmp = tmp_path_factory.mktemp("cd2-roundtrip")
    original_url, result = seeded_database_url(tmp, rt.SIZE, 1)
    imported_url = fresh_database_url(tmp)
    original = make_engine(original_url)
    snapshot = tmp / "snapshot"
    export_snapshot(original, snapshot, ts=SNAPSHOT_TS)
    done = rt.invoke(["cd2", "import", "--json", str(snapshot)], imported_url, tmp)
    assert done.exit_code == 0, done.output
    summary = json.loads(done.output)
    try:
        yield Trip(
            tmp,
            original,
            make_engine(imported_url),
            imported_url,
            result.root_account_id,
            rt.settings_on(original, result.root_account_id),
            snapshot,
            summary,
        )
    finally:
        dispose_all()
        drop_database(original_url)
        drop_database(imported_url)


def _compare(trip: Trip, want: Engine, got: Engine, reports: set[str] | None) -> list[str]:
    return rt.compare(want, got, trip.root, trip.tmp, trip.settings, reports)


def test_the_snapshot_carries_nothing_cd2_lacks(trip: Trip) -> None:
    tables = {p.name for p in trip.snapshot.iterdir()}
    assert {"users", "pseudonyms", "enrollments", "scores", "content_tags"} <= tables
    # Not in CD2 (spec §5): observer links, ePortfolios, SIS batches, login providers.
    assert not tables & {"user_observers", "eportfolios", "sis_batches", "authentication_providers"}
    users = read_jsonl(trip.snapshot / "users" / "part-00000.jsonl.gz")
    assert users and all("sis_user_id" not in r["value"] for r in users)
    assert all(set(r) == {"meta", "key", "value"} and "action" not in r["meta"] for r in users)
    tokens = read_jsonl(trip.snapshot / "access_tokens" / "part-00000.jsonl.gz")
    assert tokens and not {"token_hint", "hint", "crypted_token"} & set(tokens[0]["value"])
    imported = {t["table"]: t for t in trip.summary["tables"]}  # type: ignore[attr-defined]
    enrollments = _count(trip.original, "enrollments")
    assert imported["enrollments"]["upserted"] == imported["enrollments"]["records"] == enrollments


def test_every_report_matches_the_original(trip: Trip) -> None:
    diffs = _compare(trip, trip.original, trip.imported, None)
    assert not diffs, "\n".join(diffs)


def test_tabular_layouts_load_the_same_rows(trip: Trip) -> None:
    """TSV (condensed) and CSV (expanded) files of the tables with nested objects and arrays,
    written with a newer meta.ts, upsert every row and change no value."""
    tables = ["courses", "context_external_tools", "assignments", "developer_keys"]
    before = _dump(trip.imported, ["courses", "context_external_tools", "assignments"])
    for fmt, mode, ts in (("tsv", "condensed", "2026-11-02T13:00:00Z"),
                          ("csv", "expanded", "2026-11-02T14:00:00Z")):  # fmt: skip
        folder = trip.tmp / f"layout-{fmt}"
        export_snapshot(trip.original, folder, layout=Layout(fmt, mode), ts=ts, tables=tables)
        done = rt.invoke(["cd2", "import", "--json", str(folder)], trip.imported_url, trip.tmp)
        assert done.exit_code == 0, done.output
        counts = {t["table"]: t["upserted"] for t in json.loads(done.output)["tables"]}
        assert counts["courses"] == _count(trip.original, "courses"), counts
        assert counts["assignments"] > 0, counts
        assert _dump(trip.imported, ["courses", "context_external_tools", "assignments"]) == before


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def _dump(engine: Engine, tables: list[str]) -> dict[str, list[tuple[object, ...]]]:
    with engine.connect() as conn:
        return {
            t: [tuple(r) for r in conn.execute(text(f"SELECT * FROM {t} ORDER BY id"))]
            for t in tables
        }


def test_an_incremental_brings_the_changes(trip: Trip) -> None:
    changed_url, _ = seeded_database_url(trip.tmp, rt.SIZE, 1)
    try:
        changed = make_engine(changed_url)
        with changed.begin() as conn:
            apply_changes(conn, trip.root)
        folder = trip.tmp / "incremental"
        counts = export_incremental(trip.original, changed, folder, INCREMENTAL_TS)
        assert counts["group_memberships"][1] > 0 and counts["users"][0] > 0, counts
        assert counts["accounts"][0] >= 1 and counts["user_account_associations"][0] > 0, counts
        deletes = read_jsonl(folder / "access_tokens" / "part-00000.jsonl.gz")
        assert all(set(r) == {"meta", "key"} for r in deletes if r["meta"]["action"] == "D")
        done = rt.invoke(["cd2", "import", "--json", str(folder)], trip.imported_url, trip.tmp)
        assert done.exit_code == 0, done.output
        applied = {t["table"]: t for t in json.loads(done.output)["tables"]}
        assert applied["access_tokens"]["deleted"] == counts["access_tokens"][1]
        assert applied["users"]["upserted"] == counts["users"][0]
        diffs = _compare(trip, changed, trip.imported, AFTER_CHANGES)
        assert not diffs, "\n".join(diffs)
        # The same files again change nothing: no record is newer than what was applied.
        again = rt.invoke(["cd2", "import", "--json", str(folder)], trip.imported_url, trip.tmp)
        assert again.exit_code == 0, again.output
        tables = json.loads(again.output)["tables"]
        assert all(t["upserted"] == 0 and t["deleted"] == 0 for t in tables), tables
    finally:
        dispose_all()
        drop_database(changed_url)
