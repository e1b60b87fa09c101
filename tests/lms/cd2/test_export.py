"""The test exporter itself writes what the spec (§3) says, so the round trips test the importer
against CD2's formats and not against the exporter's own habits."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from reportcard.db.engine import dispose_all, make_engine
from tests.databases import drop_database, seeded_database_url
from tests.lms.cd2.export import (
    Layout,
    diff_rows,
    export_incremental,
    export_snapshot,
    format_ts,
    read_jsonl,
    tsv_field,
)
from tests.lms.cd2.schema import TABLES


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, Path]]:
    tmp = tmp_path_factory.mktemp("cd2-export")
    url, _ = seeded_database_url(tmp, "tiny", 1)
    yield make_engine(url), tmp
    dispose_all()
    drop_database(url)


def _lines(path: Path) -> list[str]:
    with path.open("rb") as fh:
        assert fh.read(2) == b"\x1f\x8b"  # gzip, as the dap client keeps the files
    with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
        return fh.read().split("\n")[:-1]


def test_values_are_spelled_as_cd2_spells_them() -> None:
    assert format_ts("2021-11-30 06:20:13.000000") == "2021-11-30T06:20:13Z"
    assert format_ts("2021-11-30 06:20:13.250000") == "2021-11-30T06:20:13.25Z"
    assert tsv_field("a\tb\\c\nd") == "a\\tb\\\\c\\nd"
    assert tsv_field(None) == "\\N" and tsv_field("") == ""


def test_a_jsonl_snapshot_has_a_folder_per_table_and_omits_nulls(
    tiny: tuple[Engine, Path],
) -> None:
    engine, tmp = tiny
    counts = export_snapshot(engine, tmp / "jsonl", rows_per_file=7)
    assert set(counts) == {t.name for t in TABLES}
    with engine.connect() as conn:
        assert counts["users"] == conn.execute(text("SELECT COUNT(*) FROM users")).scalar_one()
    parts = sorted((tmp / "jsonl" / "users").iterdir())
    assert len(parts) == -(-counts["users"] // 7) and parts[0].name == "part-00000.jsonl.gz"
    records = [r for p in parts for r in read_jsonl(p)]
    assert [r["key"]["id"] for r in records] == sorted(r["key"]["id"] for r in records)
    for r in records:
        assert set(r) == {"meta", "key", "value"} and set(r["meta"]) == {"ts"}
        assert None not in r["value"].values()
        assert r["value"]["created_at"].endswith("Z") and "T" in r["value"]["created_at"]
    courses = read_jsonl(tmp / "jsonl" / "courses" / "part-00000.jsonl.gz")
    assert any(isinstance(c["value"].get("settings"), dict) for c in courses)


@pytest.mark.parametrize(("fmt", "mode"), [("tsv", "condensed"), ("csv", "expanded")])
def test_tabular_files_follow_the_header_and_null_rules(
    tiny: tuple[Engine, Path], fmt: str, mode: str
) -> None:
    engine, tmp = tiny
    folder = tmp / f"{fmt}-{mode}"
    export_snapshot(engine, folder, layout=Layout(fmt, mode), tables=["courses", "users"])
    lines = _lines(folder / "courses" / f"part-00000.{fmt}.gz")
    sep = "\t" if fmt == "tsv" else ","
    header = lines[0].split(sep)
    assert header[:2] == ["meta.ts", "key.id"] and "meta.action" not in header
    if mode == "condensed":
        assert "value.settings" in header and "value.settings.course_format" not in header
    else:
        assert "value.settings.course_format" in header and "value.settings" not in header
    null = "\\N" if fmt == "tsv" else "NULL"
    at = header.index("value.time_zone")  # never set by the generator
    assert all(line.split(sep)[at] == null for line in lines[1:] if '"' not in line)


def test_an_incremental_holds_upserts_with_every_field_and_bare_deletes(
    tiny: tuple[Engine, Path],
) -> None:
    engine, tmp = tiny
    url, _ = seeded_database_url(tmp, "tiny", 1)
    try:
        changed = make_engine(url)
        with changed.begin() as conn:
            conn.execute(text("UPDATE users SET name = 'Changed' WHERE id = 3"))
            conn.execute(text("DELETE FROM communication_channels WHERE id = 2"))
        counts = export_incremental(engine, changed, tmp / "inc", "2026-11-03T00:00:00Z")
        assert counts == {"users": (1, 0), "communication_channels": (0, 1)}
        users = read_jsonl(tmp / "inc" / "users" / "part-00000.jsonl.gz")
        assert users[0]["meta"] == {"ts": "2026-11-03T00:00:00Z", "action": "U"}
        assert users[0]["key"] == {"id": 3} and users[0]["value"]["name"] == "Changed"
        assert "workflow_state" in users[0]["value"]
        gone = read_jsonl(tmp / "inc" / "communication_channels" / "part-00000.jsonl.gz")
        assert gone == [{"meta": {"ts": "2026-11-03T00:00:00Z", "action": "D"}, "key": {"id": 2}}]
        csv_folder = tmp / "inc-csv"
        export_incremental(engine, changed, csv_folder, "2026-11-03T00:00:00Z",
                           layout=Layout("csv"), tables=["communication_channels"])  # fmt: skip
        lines = _lines(csv_folder / "communication_channels" / "part-00000.csv.gz")
        width = len(lines[0].split(","))
        assert lines[1] == "2026-11-03T00:00:00Z,D,2" + "," * (width - 3)
    finally:
        dispose_all()
        drop_database(url)


def test_the_merge_of_two_ordered_states() -> None:
    old = iter([(1, {"a": 1}), (2, {"a": 2}), (4, {"a": 4})])
    new = iter([(2, {"a": 2}), (3, {"a": 3}), (4, {"a": 5})])
    assert list(diff_rows(old, new)) == [("D", 1, None), ("U", 3, {"a": 3}), ("U", 4, {"a": 5})]
    assert json.dumps(list(diff_rows(iter([]), iter([])))) == "[]"
