"""The grade, outcome and submission reports run through the framework, on the hand-built
institution: tiny shards give the bytes of the unsharded queries, the Multiple Grading
Periods export is a zip of one ``<term name>.csv`` per term, ``No outcomes found`` is written
by the compile step, and an unknown term or course ends the run in error.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from reportcard.db.tables import attachments, report_shards
from reportcard.reports.catalog import get_report
from reportcard.runs.inline import run_report
from reportcard.settings import Settings
from reportcard.storage.local import LocalStorage
from tests.databases import lane

from .learning_institution import build, lines, run_files

WINDOW = {"start_at": "2024-11-17T05:00:00", "end_at": "2024-12-01T05:00:00"}


@pytest.fixture
def built(engine: Engine) -> Engine:
    with engine.begin() as conn:
        build(conn)
    return engine


def _run(engine: Engine, tmp_path: Path, report: str, shard_rows: int = 1, **params: Any) -> Any:
    storage = LocalStorage(tmp_path / "files")
    settings = Settings(data_dir=tmp_path, shard_rows=shard_rows)
    run = run_report(engine, storage, settings, account_id=1, report_type=report, parameters=params)
    data = b""
    if run.attachment_id is not None:
        with engine.connect() as conn:
            att = conn.execute(
                select(attachments).where(attachments.c.id == run.attachment_id)
            ).one()
        with storage.open_read(att.storage_key) as fh:
            data = fh.read()
        run = (run, att, data)
    return run


@pytest.mark.parametrize(
    ("report", "params"),
    [
        ("grade_export_csv", {}),
        ("grade_export_csv", {"include_deleted": "true"}),
        ("outcome_export_csv", {}),
        ("outcome_results_csv", {}),
        ("outcome_results_csv", {"include_deleted": "true", "order": "outcomes"}),
        ("student_assignment_outcome_map_csv", {}),
        ("student_assignment_outcome_map_csv", {"include_deleted": "true"}),
        ("students_with_no_submissions_csv", WINDOW),
        ("students_with_no_submissions_csv", {**WINDOW, "include_enrollment_state": "true"}),
    ],
)
def test_tiny_shards_give_the_same_bytes(
    built: Engine, tmp_path: Path, report: str, params: dict[str, Any]
) -> None:
    run, att, data = _run(built, tmp_path, report, **params)
    assert run.workflow_state == "complete", run.error_detail
    declaration = get_report(report)
    assert declaration is not None
    assert run.message == (
        f"{declaration.title} report successfully generated with the following settings. "
        f"Account: Lakeside University; {run.parameters['extra_text']}"
    )
    assert att.filename.startswith(report + "_") and att.filename.endswith(".csv")
    with built.connect() as conn:
        shards = conn.execute(
            select(func.count()).where(report_shards.c.report_id == run.id)
        ).scalar_one()
        expected = run_files(conn, report, **params)
    # PostgreSQL cuts the Grade Export into ranges ONE_RANGE_SCALE times the setting's rows:
    # its rows without deleted ones make one range here (with them, several).
    assert shards > 1 or (report, params, lane()) == ("grade_export_csv", {}, "postgresql")
    assert data.decode("utf-8") == next(iter(expected.values()))
    assert run.current_line == expected_lines(data)


def expected_lines(data: bytes) -> int:
    return len(data.decode("utf-8").splitlines())


def test_mgp_is_a_zip_of_one_file_per_term(built: Engine, tmp_path: Path) -> None:
    run, att, data = _run(built, tmp_path, "mgp_grade_export_csv")
    assert run.workflow_state == "complete", run.error_detail
    assert att.filename.endswith(".zip") and att.content_type == "application/zip"
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        entries = {name: zf.read(name).decode("utf-8") for name in zf.namelist()}
    with built.connect() as conn:
        expected = run_files(conn, "mgp_grade_export_csv")
    assert list(entries) == ["Default Term.csv", "Fall 2024.csv", "Spring 2025.csv"]
    assert entries == {f"{name}.csv": text for name, text in expected.items()}


def test_mgp_with_one_term_is_still_a_zip(built: Engine, tmp_path: Path) -> None:
    run, _att, data = _run(built, tmp_path, "mgp_grade_export_csv", enrollment_term_id="3")
    assert run.workflow_state == "complete", run.error_detail
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.namelist() == ["Spring 2025.csv"]
        assert zf.read("Spring 2025.csv") == b"no grading periods configured for this term\n"
    assert run.parameters["extra_text"] == "Term: Spring 2025;"


@pytest.mark.parametrize("report", ["outcome_results_csv", "student_assignment_outcome_map_csv"])
def test_no_outcomes_found_is_written_by_the_compile(
    built: Engine, tmp_path: Path, report: str
) -> None:
    run, _att, data = _run(built, tmp_path, report, enrollment_term_id="1")
    assert run.workflow_state == "complete", run.error_detail
    header = data.decode("utf-8").splitlines()[0]
    assert data.decode("utf-8") == lines(header, "No outcomes found")
    assert run.current_line == 2


@pytest.mark.parametrize(
    ("report", "params"),
    [
        ("grade_export_csv", {"enrollment_term_id": "999"}),
        ("mgp_grade_export_csv", {"enrollment_term_id": "sis_term_id:NOPE"}),
        ("outcome_results_csv", {"enrollment_term_id": "999"}),
        ("student_assignment_outcome_map_csv", {"enrollment_term": "999"}),
        ("students_with_no_submissions_csv", {"course_id": "sis_course_id:NOPE"}),
        ("students_with_no_submissions_csv", {"course_id": "9"}),  # another root's course
    ],
)
def test_unknown_reference_ends_in_error(
    built: Engine, tmp_path: Path, report: str, params: dict[str, Any]
) -> None:
    run = _run(built, tmp_path, report, **params)
    declaration = get_report(report)
    assert declaration is not None
    assert run.workflow_state == "error"
    assert run.attachment_id is None
    assert run.message == f"Generating the report, {declaration.failure_title}, failed."
    assert "could not be found" in run.parameters["extra_text"]
