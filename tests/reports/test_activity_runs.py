"""The activity, course, token, tool and ePortfolio reports run through the framework.

On the hand-built institution: a run split into many tiny shards writes exactly the bytes of
the unsharded query, and an unknown term or course ends the run in error. On the synthetic
``medium`` institution: every report completes, and row counts agree with plain SQL.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text

from reportcard.db.engine import dispose_all, make_engine
from reportcard.db.tables import attachments, report_shards
from reportcard.lms.synthetic import SeedResult
from reportcard.reports.catalog import get_report
from reportcard.runs.context import build_context
from reportcard.runs.inline import run_report
from reportcard.settings import Settings
from reportcard.storage.local import LocalStorage
from tests.databases import drop_database, lane, seeded_database_url

from .activity_institution import build
from .institution import run_file

REPORTS = (
    "last_user_access_csv",
    "last_enrollment_activity_csv",
    "zero_activity_csv",
    "recently_deleted_courses_csv",
    "unpublished_courses_csv",
    "public_courses_csv",
    "course_storage_csv",
    "unused_courses_csv",
    "user_access_tokens_csv",
    "lti_report_csv",
    "developer_key_report_csv",
    "eportfolio_report_csv",
)


def file_text(engine: Engine, storage: LocalStorage, run: Any) -> str:
    with engine.connect() as conn:
        att = conn.execute(select(attachments).where(attachments.c.id == run.attachment_id)).one()
    assert att.filename.startswith(run.report_type + "_") and att.filename.endswith(".csv")
    with storage.open_read(att.storage_key) as fh:
        data: bytes = fh.read()
    return data.decode("utf-8")


# ---------------------------------------------------------------- the hand-built institution


@pytest.fixture
def built(engine: Engine) -> Engine:
    with engine.begin() as conn:
        build(conn)
    return engine


@pytest.mark.parametrize(
    ("report", "params"),
    [(r, {}) for r in REPORTS]
    + [
        ("last_user_access_csv", {"include_deleted": "true"}),
        ("zero_activity_csv", {"start_at": "2024-05-20"}),
        ("user_access_tokens_csv", {"include_deleted": "true"}),
        ("lti_report_csv", {"include_deleted": "true"}),
        ("eportfolio_report_csv", {"include_deleted": "true"}),
    ],
)
def test_tiny_shards_give_the_same_bytes(
    built: Engine, tmp_path: Path, report: str, params: dict[str, Any]
) -> None:
    # One key per shard: rows sharing a key (a user's logins or tokens, an enrollment's
    # logins) stay together and in order.
    storage = LocalStorage(tmp_path / "files")
    settings = Settings(data_dir=tmp_path, shard_rows=1)
    run = run_report(built, storage, settings, account_id=1, report_type=report, parameters=params)
    assert run.workflow_state == "complete", run.error_detail
    declaration = get_report(report)
    assert declaration is not None
    assert run.message.startswith(f"{declaration.title} report successfully generated")
    with built.connect() as conn:
        shards = conn.execute(
            select(func.count()).where(report_shards.c.report_id == run.id)
        ).scalar_one()
        expected = run_file(conn, report, report.removesuffix("_csv"), **params)
    # PostgreSQL cuts zero activity into ranges ONE_RANGE_SCALE times the setting's rows: its
    # few candidates without a start date make one range here (with one, several).
    assert shards > 1 or (report, params, lane()) == ("zero_activity_csv", {}, "postgresql")
    if report == "recently_deleted_courses_csv":
        # The run's "now" is today's: the course deleted in May 2024 is no longer recent.
        expected = expected.splitlines(keepends=True)[0]
    assert file_text(built, storage, run) == expected


@pytest.mark.parametrize(
    ("report", "params"),
    [
        ("zero_activity_csv", {"enrollment_term_id": "999"}),
        ("unused_courses_csv", {"enrollment_term_id": "sis_term_id:NOPE"}),
        ("last_enrollment_activity_csv", {"course_id": "sis_course_id:NOPE"}),
    ],
)
def test_unknown_reference_ends_in_error(
    built: Engine, tmp_path: Path, report: str, params: dict[str, Any]
) -> None:
    storage = LocalStorage(tmp_path / "files")
    settings = Settings(data_dir=tmp_path)
    run = run_report(built, storage, settings, account_id=1, report_type=report, parameters=params)
    declaration = get_report(report)
    assert declaration is not None
    assert run.workflow_state == "error"
    assert run.attachment_id is None
    assert run.message == f"Generating the report, {declaration.failure_title}, failed."
    assert "could not be found" in run.parameters["extra_text"]


# ---------------------------------------------------------------- the synthetic medium institution


@pytest.fixture(scope="module")
def medium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, SeedResult, Path]]:
    """One medium institution (with its activity data) shared by this module's runs."""
    tmp = tmp_path_factory.mktemp("medium")
    url, result = seeded_database_url(tmp, "medium", 1)
    engine = make_engine(url)
    yield engine, result, tmp
    dispose_all()
    drop_database(url)


# Plain-SQL row counts the reports must reproduce (root account, no parameters).
EXPECTED_ROWS = {
    "last_user_access_csv": """
        SELECT COUNT(*) FROM (SELECT DISTINCT user_id, COALESCE(sis_user_id, '-') FROM pseudonyms
        WHERE account_id = :root AND workflow_state <> 'deleted') q""",
    "last_enrollment_activity_csv": """
        SELECT COUNT(DISTINCT e.user_id) FROM enrollments e JOIN courses c ON c.id = e.course_id
        WHERE c.root_account_id = :root AND e.last_activity_at IS NOT NULL""",
    "unpublished_courses_csv": """
        SELECT COUNT(*) FROM courses
        WHERE root_account_id = :root AND workflow_state IN ('created', 'claimed')""",
    "public_courses_csv": """
        SELECT COUNT(*) FROM courses
        WHERE root_account_id = :root AND workflow_state <> 'deleted' AND is_public = :true""",
    "course_storage_csv": """
        SELECT COUNT(*) FROM courses WHERE root_account_id = :root AND workflow_state <> 'deleted'
    """,
    "user_access_tokens_csv": """
        SELECT COUNT(*) FROM access_tokens t WHERE t.workflow_state <> 'deleted'
        AND EXISTS (SELECT 1 FROM pseudonyms p WHERE p.user_id = t.user_id
                    AND p.account_id = :root AND p.workflow_state <> 'deleted')""",
    "unused_courses_csv": """
        SELECT COUNT(*) FROM courses c WHERE c.root_account_id = :root
        AND c.workflow_state <> 'deleted'
        AND NOT EXISTS (SELECT 1 FROM assignments x WHERE x.course_id = c.id
                        AND x.workflow_state <> 'deleted')
        AND NOT EXISTS (SELECT 1 FROM quizzes x WHERE x.course_id = c.id
                        AND x.workflow_state <> 'deleted')
        AND NOT EXISTS (SELECT 1 FROM course_files x WHERE x.course_id = c.id
                        AND x.file_state <> 'deleted')
        AND NOT EXISTS (SELECT 1 FROM discussion_topics x WHERE x.course_id = c.id
                        AND x.workflow_state <> 'deleted')
        AND NOT EXISTS (SELECT 1 FROM context_modules x WHERE x.course_id = c.id
                        AND x.workflow_state <> 'deleted')
        AND NOT EXISTS (SELECT 1 FROM wiki_pages x WHERE x.course_id = c.id
                        AND x.workflow_state <> 'deleted')""",
    "eportfolio_report_csv": """
        SELECT COUNT(*) FROM eportfolios ep JOIN users u ON u.id = ep.user_id
        JOIN pseudonyms p ON p.user_id = ep.user_id
        WHERE ep.workflow_state = 'active' AND u.workflow_state <> 'deleted'
        AND p.account_id = :root""",
}
# Reports that may legitimately be empty on the synthetic data: deletions relative to today;
# unused courses unless every content generator leaves the same courses empty.
MAY_BE_EMPTY = {"recently_deleted_courses_csv", "unused_courses_csv"}


@pytest.mark.slow
@pytest.mark.parametrize("report", REPORTS)
def test_medium_runs_complete(medium: tuple[Engine, SeedResult, Path], report: str) -> None:
    engine, result, tmp = medium
    root = result.root_account_id
    storage = LocalStorage(tmp / "files")
    settings = Settings(data_dir=tmp, shard_rows=20_000)
    run = run_report(engine, storage, settings, account_id=root, report_type=report)
    assert run.workflow_state == "complete", run.error_detail
    header, *rows = csv.reader(io.StringIO(file_text(engine, storage, run), newline=""))
    declaration = get_report(report)
    assert declaration is not None
    with engine.connect() as conn:
        ctx = build_context(conn, run)
    assert header == [
        c.header for c in declaration.part(report.removesuffix("_csv")).build(ctx).columns
    ]
    if report not in MAY_BE_EMPTY:
        assert rows
    assert all(len(row) == len(header) for row in rows)
    assert run.current_line == len(rows) + 1  # the header is a line
    if report in EXPECTED_ROWS:
        with engine.connect() as conn:
            expected = conn.execute(
                text(EXPECTED_ROWS[report]), {"root": root, "true": True}
            ).scalar_one()
        assert len(rows) == expected


@pytest.mark.slow
@pytest.mark.parametrize("report", REPORTS)
def test_medium_runs_from_a_sub_account_with_a_term(
    medium: tuple[Engine, SeedResult, Path], report: str
) -> None:
    engine, result, tmp = medium
    root = result.root_account_id
    with engine.connect() as conn:
        sub = conn.execute(
            text("SELECT MIN(id) FROM accounts WHERE parent_account_id = :root"), {"root": root}
        ).scalar_one()
        term = conn.execute(
            text("SELECT MAX(id) FROM enrollment_terms WHERE root_account_id = :root"),
            {"root": root},
        ).scalar_one()
    declaration = get_report(report)
    assert declaration is not None
    params: dict[str, Any] = {"include_deleted": "true"}
    if "enrollment_term_id" in declaration.parameters:
        params["enrollment_term_id"] = str(term)
    storage = LocalStorage(tmp / "files")
    settings = Settings(data_dir=tmp, shard_rows=20_000)
    run = run_report(
        engine, storage, settings, account_id=sub, report_type=report, parameters=params
    )
    assert run.workflow_state == "complete", run.error_detail
