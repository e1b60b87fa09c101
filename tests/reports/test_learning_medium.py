"""The grade, outcome and submission reports on the synthetic ``medium`` institution.

Every report completes through the worker with many shards, writes the header its declaration
gives, and (where plain SQL can say) exactly the rows it should.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import DateTime, Engine, bindparam, select, text

from reportcard.db.engine import dispose_all, make_engine
from reportcard.db.tables import attachments
from reportcard.lms.synthetic import SeedResult
from reportcard.reports.submissions import window
from reportcard.runs.context import build_context
from reportcard.runs.inline import run_report
from reportcard.settings import Settings
from reportcard.storage.local import LocalStorage
from tests.databases import drop_database, seeded_database_url

pytestmark = pytest.mark.slow

WINDOW = {"start_at": "2026-10-19", "end_at": "2026-11-02"}  # the two weeks before the anchor


@pytest.fixture(scope="module")
def medium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, SeedResult, Path]]:
    tmp = tmp_path_factory.mktemp("learning-medium")
    url, result = seeded_database_url(tmp, "medium", 1)
    engine = make_engine(url)
    yield engine, result, tmp
    dispose_all()
    drop_database(url)


def _run(medium: tuple[Engine, SeedResult, Path], report: str, **params: Any) -> tuple[Any, bytes]:
    engine, result, tmp = medium
    storage = LocalStorage(tmp / "files")
    settings = Settings(data_dir=tmp, shard_rows=20_000)
    run = run_report(
        engine, storage, settings, account_id=result.root_account_id, report_type=report,
        parameters=params,
    )  # fmt: skip
    assert run.workflow_state == "complete", run.error_detail
    with engine.connect() as conn:
        key = conn.execute(
            select(attachments.c.storage_key).where(attachments.c.id == run.attachment_id)
        ).scalar_one()
    with storage.open_read(key) as fh:
        return run, fh.read()


def _rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def _count(engine: Engine, sql: str, **params: Any) -> int:
    query = text(sql)
    if "start" in params:
        query = query.bindparams(
            bindparam("start", type_=DateTime), bindparam("end", type_=DateTime)
        )
    with engine.connect() as conn:
        return int(conn.execute(query, params).scalar_one())


GRADE_ROWS = """
    SELECT COUNT(*) FROM enrollments e JOIN courses c ON c.id = e.course_id
    WHERE c.root_account_id = :root AND e.root_account_id = :root
    AND e.type = 'StudentEnrollment' AND c.workflow_state = 'available'
    AND e.workflow_state IN ('active', 'completed')
    AND EXISTS (SELECT 1 FROM pseudonyms p WHERE p.user_id = e.user_id
                AND p.account_id = :root AND p.workflow_state <> 'deleted')"""
NO_SUBMISSION_ROWS = """
    SELECT COUNT(*) FROM enrollments e JOIN courses c ON c.id = e.course_id
    JOIN pseudonyms p ON p.user_id = e.user_id AND p.account_id = c.root_account_id
    WHERE c.root_account_id = :root AND e.root_account_id = :root
    AND e.type = 'StudentEnrollment' AND c.workflow_state <> 'deleted'
    AND p.workflow_state <> 'deleted'
    AND NOT EXISTS (SELECT 1 FROM submissions s JOIN assignments a ON a.id = s.assignment_id
                    WHERE s.user_id = e.user_id AND a.course_id = e.course_id
                    AND s.workflow_state <> 'deleted'
                    AND s.submitted_at > :start AND s.submitted_at < :end)"""


def test_grade_export(medium: tuple[Engine, SeedResult, Path]) -> None:
    engine, result, _ = medium
    run, data = _run(medium, "grade_export_csv")
    header, *rows = _rows(data)
    assert header[-1] == "override grade"  # the generator allows Final Grades Override
    assert len(rows) == _count(engine, GRADE_ROWS, root=result.root_account_id)
    assert run.current_line == len(rows) + 1
    assert any(r[header.index("current grade")] for r in rows)  # some courses have a scheme
    assert all(len(r) == len(header) for r in rows)


def test_mgp_grade_export(medium: tuple[Engine, SeedResult, Path]) -> None:
    _, data = _run(medium, "mgp_grade_export_csv")
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        files = {n: _rows(zf.read(n)) for n in zf.namelist()}
    with_periods = [rows for rows in files.values() if len(rows[0]) > 1]
    assert len(with_periods) == 1  # one term has a grading period set
    header = with_periods[0][0]
    assert "Marking Period 2 override grade" in header and len(with_periods[0]) > 1
    others = [rows for rows in files.values() if len(rows[0]) == 1]
    assert all(rows == [["no grading periods configured for this term"]] for rows in others)


def test_outcome_export(medium: tuple[Engine, SeedResult, Path]) -> None:
    _, data = _run(medium, "outcome_export_csv")
    header, *rows = _rows(data)
    assert header[-1] == "ratings"
    kinds = [r[1] for r in rows]
    assert kinds == sorted(kinds)  # groups, then outcomes
    assert kinds.count("group") == 4 and kinds.count("outcome") == 8
    assert all(len(r) == 11 + 2 * 4 or len(r) == 11 + 2 * 3 for r in rows if r[1] == "outcome")
    # Canvas writes a group row from its 11 group columns: no ratings cell.
    assert all(len(r) == 11 for r in rows if r[1] == "group")


@pytest.mark.parametrize("order", ["users", "courses", "outcomes"])
def test_outcome_results(medium: tuple[Engine, SeedResult, Path], order: str) -> None:
    _, data = _run(medium, "outcome_results_csv", order=order)
    header, *rows = _rows(data)
    assert len(rows) > 1000
    key = {"users": "student id", "courses": "course id", "outcomes": "learning outcome id"}
    keys = [int(r[header.index(key[order])]) for r in rows]
    assert keys == sorted(keys)
    types = {r[header.index("assessment type")] for r in rows}
    assert types == {"assignment", "quiz"}


def test_student_competency(medium: tuple[Engine, SeedResult, Path]) -> None:
    _, data = _run(medium, "student_assignment_outcome_map_csv", include_deleted="true")
    header, *rows = _rows(data)
    assert len(rows) > 1000
    assessed = [r for r in rows if r[header.index("attempt")]]
    assert assessed and len(assessed) < len(rows)  # assessed and not assessed students


def test_students_with_no_submissions(medium: tuple[Engine, SeedResult, Path]) -> None:
    engine, result, _ = medium
    run, data = _run(medium, "students_with_no_submissions_csv", **WINDOW)
    header, *rows = _rows(data)
    assert header[-1] == "course name"
    # 2026-10-19 and 2026-11-02 in the root account's zone, as stored (naive UTC) bounds.
    assert "Start At: 2026-10-19T00:00:00" in run.parameters["extra_text"]
    with engine.connect() as conn:
        start, end = window(build_context(conn, run))
    expected = _count(engine, NO_SUBMISSION_ROWS, root=result.root_account_id, start=start, end=end)
    assert len(rows) == expected > 0
