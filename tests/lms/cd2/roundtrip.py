"""Running the twenty Canvas reports on two databases and comparing them with CD2's gaps masked.

Used by the round-trip tests (tests/lms/cd2/test_roundtrip*.py): the original institution and the
one rebuilt from its CD2 export must give the same output, cell for cell, except for the
columns tests/lms/cd2/gaps.py lists (the columns CD2 cannot carry, documented in
docs/canvas-data-2.md).
"""

from __future__ import annotations

import csv
import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from sqlalchemy import Engine, select, text

from reportcard.cli import main
from reportcard.db.tables import attachments
from reportcard.reports.catalog import all_reports
from reportcard.reports.learning_common import ALLOWED_STATES, ENABLED_STATES
from reportcard.reports.sis_scope import STANDARD_FILES
from reportcard.runs.inline import run_report
from reportcard.settings import Settings, get_settings
from reportcard.storage.local import LocalStorage
from tests.lms.cd2.gaps import INTEGRATION_IDS, MASTERY_SCALES, OVERRIDE, PRONOUNS, comparable

_SIS_PARTS = {p: "true" for p in STANDARD_FILES}  # the twelve files, not the tag files


# The institution the round trips export: ``small`` in ``make test`` (every table and code path,
# minutes of CI time), ``medium`` with REPORTCARD_CD2_ROUNDTRIP_SIZE=medium (``make test-cd2``).
SIZE = os.environ.get("REPORTCARD_CD2_ROUNDTRIP_SIZE", "small")

SNAPSHOT_TS = "2026-11-02T12:00:00Z"
INCREMENTAL_TS = "2026-11-03T10:00:00Z"
# The reports the incremental's changes (tests/lms/cd2/changes.py) reach: accounts, users, logins,
# enrollments, scores, memberships, channels, tokens, tools, files, outcome question results.
AFTER_CHANGES = {
    "provisioning_csv",
    "grade_export_csv",
    "last_user_access_csv",
    "last_enrollment_activity_csv",
    "user_access_tokens_csv",
    "lti_report_csv",
    "course_storage_csv",
    "recently_deleted_courses_csv",
    "student_assignment_outcome_map_csv",
}


def invoke(args: list[str], url: str, tmp: Path) -> Result:
    """``reportcard ARGS`` in this process against the database ``url``."""
    env = {"REPORTCARD_DATABASE_URL": url, "REPORTCARD_DATA_DIR": str(tmp)}
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(main, args, env=env, catch_exceptions=False)
    finally:
        get_settings.cache_clear()


def report_runs(terms: list[int]) -> list[tuple[str, dict[str, Any]]]:
    """(report, parameters) of every report, with the parameters that widen it most."""
    runs: list[tuple[str, dict[str, Any]]] = [
        ("sis_export_csv", dict(_SIS_PARTS)),
        ("sis_export_csv", {**_SIS_PARTS, "include_deleted": "true"}),
        ("provisioning_csv", {**_SIS_PARTS, "include_deleted": "true"}),
        ("provisioning_csv", {**_SIS_PARTS, "created_by_sis": "true"}),
        ("grade_export_csv", {"include_deleted": "true"}),
        ("last_user_access_csv", {"include_deleted": "true"}),
        ("last_enrollment_activity_csv", {}),
        ("outcome_export_csv", {}),
        ("outcome_results_csv", {"include_deleted": "true"}),
        ("student_assignment_outcome_map_csv", {}),
        ("students_with_no_submissions_csv", {"start_at": "2026-09-01", "end_at": "2026-11-02"}),
        ("recently_deleted_courses_csv", {}),
        ("unpublished_courses_csv", {}),
        ("public_courses_csv", {}),
        ("course_storage_csv", {}),
        ("unused_courses_csv", {}),
        ("zero_activity_csv", {}),
        ("user_access_tokens_csv", {"include_deleted": "true"}),
        ("lti_report_csv", {"include_deleted": "true"}),
        ("developer_key_report_csv", {}),
        ("eportfolio_report_csv", {"include_deleted": "true"}),
    ]
    runs += [("mgp_grade_export_csv", {"enrollment_term_id": str(t)}) for t in terms]
    return runs


@dataclass
class Output:
    """The files of one run: part name -> rows (the header first)."""

    files: dict[str, list[list[str]]]


def run(engine: Engine, root: int, tmp: Path, report: str, params: dict[str, Any]) -> Output:
    storage = LocalStorage(tmp / "files")
    settings = Settings(data_dir=tmp, shard_rows=1_000_000)
    done = run_report(
        engine, storage, settings, account_id=root, report_type=report, parameters=params
    )
    assert done.workflow_state == "complete", (report, done.error_detail)
    with engine.connect() as conn:
        key = conn.execute(
            select(attachments.c.storage_key).where(attachments.c.id == done.attachment_id)
        ).scalar_one()
    with storage.open_read(key) as fh:
        data = fh.read()
    if data[:2] == b"PK":
        zf = zipfile.ZipFile(io.BytesIO(data))
        files = {n.rsplit(".", 1)[0]: _rows(zf.read(n)) for n in zf.namelist()}
    else:
        files = {"": _rows(data)}
    return Output(files)


def _rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def settings_on(engine: Engine, root: int) -> list[str]:
    """The gaps' ``setting`` strings that are on in the institution (tests/lms/cd2/gaps.py)."""
    on = []
    with engine.connect() as conn:
        if conn.execute(
            text("SELECT can_add_pronouns FROM accounts WHERE id = :r"), {"r": root}
        ).scalar():
            on.append(PRONOUNS)
        names = {
            str(n)
            for (n,) in conn.execute(
                text("SELECT name FROM account_settings WHERE value IN ('true', '1')")
            )
        }
        flags = {
            str(f): str(s)
            for f, s in conn.execute(text("SELECT feature, state FROM feature_flags"))
        }
    if "include_integration_ids_in_gradebook_exports" in names:
        on.append(INTEGRATION_IDS)
    if flags.get("final_grades_override") in ALLOWED_STATES:
        on.append(OVERRIDE)
    if flags.get("account_level_mastery_scales") in ENABLED_STATES:
        on.append(MASTERY_SCALES)
    return on


def part_name(report: str, name: str) -> str:
    """The part name gaps.py uses for a file: a zip member's base name, or the report's only
    declared part (``*`` matches the per-term files of mgp_grade_export_csv)."""
    if name:
        return name
    parts = [p.name for p in all_reports()[report].parts]
    return parts[0] if len(parts) == 1 else report


def differences(
    report: str,
    params: dict[str, Any],
    want: Output,
    got: Output,
    settings: list[str],
) -> list[str]:
    """What differs between two outputs once the gaps are masked (empty: the same)."""
    out: list[str] = []
    if set(want.files) != set(got.files):
        return [f"{report}: files {sorted(want.files)} != {sorted(got.files)}"]
    for name, rows in want.files.items():
        part = part_name(report, name)
        wh, wr = comparable(report, part, rows[0], rows[1:], params, settings)
        grows = got.files[name]
        gh, gr = comparable(report, part, grows[0], grows[1:], params, settings)
        if wh != gh:
            out.append(f"{report}/{part}: header {wh} != {gh}")
            continue
        if len(wr) != len(gr):
            out.append(f"{report}/{part}: {len(wr)} rows != {len(gr)}")
        for i, (a, b) in enumerate(zip(wr, gr, strict=False)):
            if a != b:
                cols = [
                    f"{wh[j] if j < len(wh) else j}: {a[j] if j < len(a) else None!r}"
                    f" != {b[j] if j < len(b) else None!r}"
                    for j in range(max(len(a), len(b)))
                    if (a[j] if j < len(a) else None) != (b[j] if j < len(b) else None)
                ]
                out.append(f"{report}/{part} row {i + 1}: " + "; ".join(cols))
                if len(out) > 40:
                    return out
    return out


def terms(engine: Engine) -> list[int]:
    """Terms worth a Multiple Grading Periods export: one with a grading period set, one not."""
    with engine.connect() as conn:
        with_set = conn.execute(
            text("SELECT MIN(enrollment_term_id) FROM grading_period_group_terms")
        ).scalar()
        other = conn.execute(
            text(
                "SELECT MIN(id) FROM enrollment_terms WHERE id NOT IN"
                " (SELECT enrollment_term_id FROM grading_period_group_terms)"
                " AND workflow_state = 'active' AND start_at IS NOT NULL"
            )
        ).scalar()
    return [int(t) for t in (with_set, other) if t is not None]


def compare(
    want: Engine,
    got: Engine,
    root: int,
    tmp: Path,
    settings: list[str],
    reports: set[str] | None = None,
) -> list[str]:
    """Run every report (or ``reports``) on both databases; the differences, gaps masked."""
    diffs: list[str] = []
    for report, params in report_runs(terms(want)):
        if reports is not None and report not in reports:
            continue
        a = run(want, root, tmp / "want", report, params)
        b = run(got, root, tmp / "got", report, params)
        diffs += differences(report, params, a, b, settings)
    return diffs
