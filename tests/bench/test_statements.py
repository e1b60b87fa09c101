"""bench/statements.py: a part's statement as SQL text gives the part's own rows.

The per-part benchmark (``python -m bench.parts``) times the database's CLI on this text, so
a literal rendered differently from the bound value (a timestamp's format, a boolean) would
time another query. Every measured case on the tiny institution, in both lanes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from bench.parts import cases
from bench.statements import part_sql, psql_copy, run_context, selected_parts, sqlite_cli
from sqlalchemy import Engine

from reportcard.db.engine import dispose_all, make_engine
from reportcard.reports.catalog import get_report
from reportcard.runs.query import range_select, stream_batches
from reportcard.runs.write import copy_eligible, copy_select
from tests.databases import drop_database, lane, seeded_database_url


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    url, result = seeded_database_url(tmp_path_factory.mktemp("parts"), "tiny", 1)
    yield url, result.root_account_id
    dispose_all()
    drop_database(url)


def _rows(engine: Engine, sql: str) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.exec_driver_sql(sql)]
        conn.rollback()
    return rows


def test_every_part_statement_as_text_returns_the_parts_rows(tiny: tuple[str, int]) -> None:
    url, root = tiny
    engine = make_engine(url)
    counted: dict[str, int] = {}
    for case in cases():
        report = get_report(case.report)
        assert report is not None
        ctx = run_context(engine, root, case.report, case.params)
        for name, pq in selected_parts(report, ctx):
            sql = part_sql(engine, pq)
            assert sql is not None
            stmt = copy_select(pq) if copy_eligible(engine, pq) else range_select(pq)
            with engine.connect() as conn:  # as a shard reads them: bound parameters, raw rows
                bound = [tuple(r) for batch in stream_batches(conn, stmt) for r in batch]
                conn.rollback()
            assert _rows(engine, sql) == bound, (case.label, name)
            counted[f"{case.label}/{name}"] = len(bound)
    # Not vacuous: the big files and the reports with a date or term in their query have rows.
    for label in (
        "provisioning users/users",
        "sis_export enrollments/enrollments",
        "grade_export_csv/grades",
        'zero_activity_csv {"start_at": "2026-10-01"}/zero_activity',
    ):
        assert counted[label] > 0, label


def test_the_cli_baseline_writes_every_row_of_the_statements(
    tiny: tuple[str, int], tmp_path: Path
) -> None:
    url, root = tiny
    engine = make_engine(url)
    report = get_report("provisioning_csv")
    assert report is not None
    ctx = run_context(engine, root, "provisioning_csv", {"users": "true", "enrollments": "true"})
    sqls = [part_sql(engine, pq) for _, pq in selected_parts(report, ctx)]
    expected = sum(len(_rows(engine, sql)) for sql in sqls if sql is not None)
    assert expected > 0
    statements = [sql for sql in sqls if sql is not None]
    if lane() == "sqlite":
        db_path = Path(str(engine.url.database))
        got = sqlite_cli(db_path, statements, tmp_path / "out.csv")
    else:
        got = psql_copy(url, statements, tmp_path / "out.csv")
    assert got["rows"] == expected
    assert got["wall"] > 0
