"""Every Canvas report through the real HTTP API on the synthetic `medium` institution."""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from reportcard.app import create_app
from reportcard.auth.tokens import create_token, user_for_login
from reportcard.db.engine import dispose_all, make_engine
from reportcard.settings import Settings
from tests.databases import drop_database, seeded_database_url
from tests.patience import ANSWER
from tests.reports.canvas_registry import PROVISIONING_PARAMETERS, SIS_EXPORT_PARAMETERS
from tests.serving import serving

# Canvas's registry (spec api.md §17): type -> (title, declared parameters).
CANVAS = {
    "eportfolio_report_csv": ("Eportfolio Report", {"no_enrollments", "include_deleted"}),
    "grade_export_csv": ("Grade Export", {"enrollment_term_id", "include_deleted"}),
    "mgp_grade_export_csv": ("Multiple Grading Periods Grade Export", {"enrollment_term_id"}),
    "last_user_access_csv": (
        "Last User Access",
        {"enrollment_term_id", "course_id", "include_deleted"},
    ),
    "last_enrollment_activity_csv": (
        "Last Enrollment Activity",
        {"enrollment_term_id", "course_id"},
    ),
    "outcome_export_csv": ("Outcome Export", set()),
    "outcome_results_csv": (
        "Outcome Results",
        {"enrollment_term_id", "order", "include_deleted"},
    ),
    "provisioning_csv": ("Provisioning", set(PROVISIONING_PARAMETERS)),
    "recently_deleted_courses_csv": ("Recently Deleted Courses", {"enrollment_term_id"}),
    "sis_export_csv": ("SIS Export", set(SIS_EXPORT_PARAMETERS)),
    "student_assignment_outcome_map_csv": (
        "Student Competency",
        {"enrollment_term_id", "include_deleted"},
    ),
    "students_with_no_submissions_csv": (
        "Students with no submissions",
        {
            "enrollment_term_id",
            "course_id",
            "start_at",
            "end_at",
            "include_enrollment_state",
            "enrollment_state",
        },
    ),
    "unpublished_courses_csv": ("Unpublished Courses", {"enrollment_term_id"}),
    "public_courses_csv": ("Public Courses", {"enrollment_term_id"}),
    "course_storage_csv": ("Course Storage", {"enrollment_term_id"}),
    "unused_courses_csv": ("Unused Courses", {"enrollment_term_id"}),
    "zero_activity_csv": ("Zero Activity", {"enrollment_term_id", "start_at", "course_id"}),
    "user_access_tokens_csv": ("User Access Tokens", {"include_deleted"}),
    "lti_report_csv": ("LTI Report", {"include_deleted"}),
    "developer_key_report_csv": ("Developer Keys Report", set()),
}

PARAMS: dict[str, dict[str, str]] = {
    "provisioning_csv": {"users": "1", "courses": "1", "enrollments": "1"},
    "sis_export_csv": {"users": "1", "courses": "1", "enrollments": "1"},
}


@dataclass
class Medium:
    base: str
    root: int
    token: str


@pytest.fixture(scope="module")
def medium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Medium]:
    tmp: Path = tmp_path_factory.mktemp("medium")
    url, result = seeded_database_url(tmp, "medium", 1)  # seeded once for the session
    engine = make_engine(url)
    with engine.begin() as conn:
        login = user_for_login(conn, "admin", result.root_account_id)
        token = create_token(conn, int(login.user_id))
    settings = Settings(data_dir=tmp, database_url=url, poll_seconds=0.05, shard_rows=50_000)
    try:
        app = create_app(settings, workers=2)
        with serving(app, lifespan="auto", start_timeout=ANSWER) as base:
            yield Medium(base, result.root_account_id, token)
    finally:
        dispose_all()
        drop_database(url)


def get(m: Medium, path: str, **kw: Any) -> httpx.Response:
    return httpx.get(
        f"{m.base}{path}", headers={"Authorization": f"Bearer {m.token}"}, timeout=ANSWER, **kw
    )


def test_the_catalog_lists_all_twenty_canvas_reports(medium: Medium) -> None:
    listed = {e["report"]: e for e in get(medium, f"/api/v1/accounts/{medium.root}/reports").json()}
    assert set(CANVAS) <= set(listed)
    for name, (title, params) in CANVAS.items():
        entry = listed[name]
        assert entry["title"] == title, name
        declared = set(entry["parameters"] or {})
        assert declared == params, (name, declared ^ params)
        for p in (entry["parameters"] or {}).values():
            assert set(p) == {"required", "description"} and p["description"]
    required = {
        (n, p)
        for n, e in listed.items()
        if n in CANVAS
        for p, spec in (e["parameters"] or {}).items()
        if spec["required"]
    }
    assert required == {
        ("mgp_grade_export_csv", "enrollment_term_id"),
        ("students_with_no_submissions_csv", "start_at"),
        ("students_with_no_submissions_csv", "end_at"),
    }


@pytest.mark.parametrize("report", sorted(CANVAS))
def test_each_report_completes_through_the_api(medium: Medium, report: str) -> None:
    headers = {"Authorization": f"Bearer {medium.token}"}
    data = {f"parameters[{k}]": v for k, v in PARAMS.get(report, {}).items()}
    data["parameters[skip_message]"] = "1"
    started = httpx.post(
        f"{medium.base}/api/v1/accounts/{medium.root}/reports/{report}",
        data=data,
        headers=headers,
        timeout=ANSWER,
    )
    assert started.status_code == 200, started.text
    url = f"/api/v1/accounts/{medium.root}/reports/{report}/{started.json()['id']}"
    deadline = time.monotonic() + 180
    while (run := get(medium, url).json())["status"] in ("created", "running", "compiling"):
        assert time.monotonic() < deadline, run
        time.sleep(0.1)
    assert run["status"] == "complete", run
    assert run["progress"] == 100
    assert run["message"].startswith(f"{CANVAS[report][0]} report successfully generated")
    body = httpx.get(run["attachment"]["url"], timeout=60).content
    assert len(body) == run["attachment"]["size"]
    if run["attachment"]["content-type"] == "application/zip":
        zf = zipfile.ZipFile(io.BytesIO(body))
        lines = sum(zf.read(n).count(b"\n") for n in zf.namelist())
    else:
        assert run["attachment"]["content-type"] == "text/csv"
        lines = body.count(b"\n")
        assert body.split(b"\n", 1)[0]  # a header row
    assert run["current_line"] == lines
