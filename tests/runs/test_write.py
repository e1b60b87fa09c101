"""The fast paths (PostgreSQL's COPY, SQLite's SQL-built lines) write the csv path's bytes."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import Connection, Engine, select, update

from reportcard.db import tables
from reportcard.reports.catalog import all_reports, get_report
from reportcard.reports.sis_scope import STANDARD_FILES
from reportcard.runs.write import (
    copy_eligible,
    lines_eligible,
    write_copy,
    write_lines,
    write_python,
)
from tests.databases import lane
from tests.reports.institution import build, context

FILES = STANDARD_FILES


def test_copy_is_only_offered_on_postgresql(engine: Engine) -> None:
    report = get_report("provisioning_csv")
    assert report is not None
    with engine.begin() as conn:
        build(conn)
        ctx = context(conn, "provisioning_csv", include_deleted="true")
    pq = report.part("enrollments").build(ctx)
    assert copy_eligible(engine, pq) is (lane() == "postgresql")


@pytest.mark.parametrize("hostile", [False, True], ids=["clean", "hostile"])
@pytest.mark.parametrize("report_type", ["sis_export_csv", "provisioning_csv"])
@pytest.mark.parametrize("include_deleted", ["false", "true"])
def test_copy_and_python_paths_are_byte_identical(
    engine: Engine, report_type: str, include_deleted: str, hostile: bool
) -> None:
    if lane() != "postgresql":
        pytest.skip("COPY exists only in the PostgreSQL lane")
    report = get_report(report_type)
    assert report is not None
    with engine.begin() as conn:
        build(conn)
        if hostile:
            _make_hostile(conn)
        ctx = context(conn, report_type, include_deleted=include_deleted)
    compared = 0
    for name in FILES:
        pq = report.part(name).build(ctx)
        if not copy_eligible(engine, pq):
            continue
        by_copy, by_python = io.BytesIO(), io.BytesIO()
        counts: list[int] = []
        n_copy = write_copy(engine, pq, 0, 10**12, by_copy, counts.append)  # type: ignore[arg-type]
        n_py = write_python(engine, pq, ctx, 0, 10**12, by_python, lambda n: None)  # type: ignore[arg-type]
        assert by_copy.getvalue() == by_python.getvalue(), name
        assert n_copy == n_py == sum(counts), name
        compared += 1
    # the hot files take the COPY path
    assert compared >= 4


ALL_FILES = {name: "true" for name in FILES}
# Values that need quoting, or hold the line path's own separators, or are empty.
HOSTILE = [
    ("courses", "sis_source_id", 'C,1 "quoted"'),
    ("course_sections", "sis_source_id", "S\n2"),
    ("pseudonyms", "sis_user_id", "U\x1f3"),
    ("roles", "name", "Role\r4"),
    ("accounts", "name", 'Arts, "Music" \x1f\n'),
    ("accounts", "sis_source_id", 'A"5'),
    ("groups", "name", "Grüppe ✓"),
    ("group_categories", "sis_source_id", ""),
]


def _make_hostile(conn: Connection) -> None:
    for table_name, column, value in HOSTILE:
        table = tables.metadata.tables[table_name]
        rows = conn.execute(select(table.c.id).order_by(table.c.id)).scalars().all()
        for row_id in {*rows[1::3], *rows[-2:]}:  # every third, the last two: clean rows between
            conn.execute(update(table).where(table.c.id == row_id).values({column: value}))


def _params(report_type: str) -> dict[str, str]:
    return dict(ALL_FILES) if report_type in ("sis_export_csv", "provisioning_csv") else {}


def test_lines_are_only_offered_on_sqlite(engine: Engine) -> None:
    report = get_report("provisioning_csv")
    assert report is not None
    with engine.begin() as conn:
        build(conn)
        ctx = context(conn, "provisioning_csv", enrollments="true")
    pq = report.part("enrollments").build(ctx)
    assert lines_eligible(engine, pq) is (lane() == "sqlite")


@pytest.mark.parametrize("hostile", [False, True], ids=["clean", "hostile"])
@pytest.mark.parametrize("batch", [1, 2, 1000])
def test_sqlite_lines_and_python_paths_are_byte_identical(
    engine: Engine, hostile: bool, batch: int
) -> None:
    """Every part of every report that takes the SQLite line path, batch by batch."""
    if lane() != "sqlite":
        pytest.skip("SQL-built lines are the SQLite lane's path")
    with engine.begin() as conn:
        build(conn)
        if hostile:
            _make_hostile(conn)
    compared: list[str] = []
    everything = b""
    for report_type, report in sorted(all_reports().items()):
        with engine.begin() as conn:
            ctx = context(conn, report_type, include_deleted="true", **_params(report_type))
        for name in report.select_parts(ctx):
            pq = report.part(name).build(ctx)
            if not lines_eligible(engine, pq):
                continue
            by_lines, by_python = io.BytesIO(), io.BytesIO()
            counts: list[int] = []
            n_lines = write_lines(engine, pq, 0, 10**12, by_lines, counts.append, batch)  # type: ignore[arg-type]
            n_py = write_python(engine, pq, ctx, 0, 10**12, by_python, lambda n: None)  # type: ignore[arg-type]
            assert by_lines.getvalue() == by_python.getvalue(), f"{report_type}/{name}"
            assert n_lines == n_py == sum(counts), f"{report_type}/{name}"
            compared.append(f"{report_type}/{name}")
            everything += by_python.getvalue()
    assert "provisioning_csv/enrollments" in compared
    assert len(compared) >= 10
    if hostile:  # the hostile values reached the compared files, quoted where they must be
        for quoted in (
            b'"C,1 ""quoted"""',
            b'"S\n2"',
            b"U\x1f3",
            b'"Role\r4"',
            b'"A""5"',
            "Grüppe ✓".encode(),
        ):
            assert quoted in everything, quoted
