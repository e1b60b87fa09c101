"""The course reports on the hand-built institution of ``activity_institution.py``: exact files
(spec other-reports.md §4.8-§4.12)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Connection, update

from reportcard.db.tables import courses
from reportcard.reports.basics import megabytes
from reportcard.reports.catalog import get_report
from reportcard.reports.params import ReportInputError

from .activity_institution import OTHER_ROOT, build
from .institution import context, lines, run_file

BUILD = build  # what the conn fixture (conftest.py) writes


def run(conn: Connection, report: str, account_id: int = 1, **params: Any) -> str:
    return run_file(conn, report, report.removesuffix("_csv"), account_id=account_id, **params)


LIST_HEADER = "id,sis id,short name,name,start date,end date"
# Restricted to its dates: 2023-08-21T09:00:00-06:00 .. 2023-12-15T16:30:00-07:00.
C1 = "1,ART101,ART101,Intro to Art,2023-08-21T09:00:00-06:00,2023-12-15T16:30:00-07:00"
C3 = "3,MUS300,MUS300,Music Ensemble,2024-01-16T00:00:00-07:00,2024-05-10T18:00:00-06:00"
C4 = '4,,PHY100,"Physics, Honors",,'
C5 = "5,CHM100,CHM100,Chemistry,,"  # not restricted: no dates
C6 = "6,DEL1,DEL1,Deleted Recently,2024-01-16T00:00:00-07:00,"


def test_unpublished_courses(conn: Connection) -> None:
    report = "unpublished_courses_csv"
    assert run(conn, report) == lines(LIST_HEADER, C3, C4)  # created and claimed
    assert run(conn, report, enrollment_term_id="3") == lines(LIST_HEADER, C3)
    assert run(conn, report, account_id=4) == lines(LIST_HEADER, C4)
    assert run(conn, report, account_id=2) == lines(LIST_HEADER, C3)  # Music is under Arts
    assert run(conn, report, account_id=OTHER_ROOT) == lines(
        LIST_HEADER, "50,ART101,SHB1,Shelby Course,,"
    )


def test_public_courses(conn: Connection) -> None:
    report = "public_courses_csv"
    # Any published state, but not the deleted public course 6.
    assert run(conn, report) == lines(LIST_HEADER, C1, C3, C5)
    assert run(conn, report, enrollment_term_id="sis_term_id:FA23") == lines(LIST_HEADER, C1)
    assert run(conn, report, account_id=4) == lines(LIST_HEADER, C5)


def test_recently_deleted_courses(conn: Connection) -> None:
    report = "recently_deleted_courses_csv"
    # Course 7 was deleted 61 days ago; course 9 exactly 30 days ago.
    assert run(conn, report) == lines(LIST_HEADER, C6)
    assert run(conn, report, enrollment_term_id="3") == lines(LIST_HEADER, C6)
    assert run(conn, report, enrollment_term_id="2") == lines(LIST_HEADER)
    assert run(conn, report, account_id=4) == lines(LIST_HEADER)


STORAGE_HEADER = (
    "id,sis id,short name,name,account id,account sis id,account name,storage used in MB,"
    "sum of all files in MB"
)
S1 = "1,ART101,ART101,Intro to Art,2,ARTS,College of Arts,1.23,3.23"
S2 = "2,MUS200,MUS200,Music Theory,3,MUSIC,Department of Music,0.13,0.13"
S3 = "3,MUS300,MUS300,Music Ensemble,3,MUSIC,Department of Music,0.0,0.0"
S4 = '4,,PHY100,"Physics, Honors",4,SCI,College of Science,0.0,0.0'
S5 = "5,CHM100,CHM100,Chemistry,4,SCI,College of Science,92.0,92.0"
S8 = "8,OLD1,OLD1,Old College Course,5,OLD,Old College,0.0,0.0"
S10 = "10,,ANN,Announcements Only,1,,Springfield University,0.0,0.0"
S11 = "11,BIO100,BIO100,Biology,4,SCI,College of Science,0.0,0.0"
S12 = "12,EMPTY,EMPTY,Empty Course,3,MUSIC,Department of Music,0.0,0.0"
S13 = "13,,FIN,Finished Course,4,SCI,College of Science,0.0,0.0"


def test_course_storage(conn: Connection) -> None:
    # Course 1: originals 1,288,490 + 512 (a 100-byte file) + 0 (no size) = 1,289,002 bytes
    # = 1.2293 MB; with the 2 MB copy 3.2293 MB; the deleted file and the hidden one never
    # count (Canvas sums ``attachments.active``, file_state available only). Course 2:
    # exactly 0.125 MB, rounded half up. Course 8: a 0-byte file is 512.
    assert run(conn, "course_storage_csv") == lines(
        STORAGE_HEADER,
        S1,
        S2,
        S3,
        S4,
        S5,
        S8,
        S10,
        S11,
        S12,
        S13,
        "14,,PAGES,Pages Only,2,ARTS,College of Arts,0.0,0.0",
        "15,,MODS,Modules Only,2,ARTS,College of Arts,0.0,0.0",
        "16,,ASG,Assignments Only,2,ARTS,College of Arts,0.0,0.0",
        "17,,QUIZ,Quizzes Only,2,ARTS,College of Arts,0.0,0.0",
    )


def test_course_storage_term_and_sub_account(conn: Connection) -> None:
    report = "course_storage_csv"
    assert run(conn, report, enrollment_term_id="2") == lines(STORAGE_HEADER, S1, S4)
    assert run(conn, report, account_id=3) == lines(STORAGE_HEADER, S2, S3, S12)


def test_megabytes_rounds_half_up_and_writes_ruby_floats() -> None:
    mb = 1_048_576
    assert megabytes(None) == "0.0"
    assert megabytes(0) == "0.0"
    assert megabytes(mb // 8) == "0.13"  # 0.125 exactly
    assert megabytes(15_728) == "0.01"  # 0.014999 MB
    assert megabytes(92 * mb) == "92.0"
    assert megabytes(int(4.65 * mb)) == "4.65"
    assert megabytes(1234 * mb + mb // 2) == "1234.5"


UNUSED_HEADER = "course id,course sis id,short name,long name,status,created at"
N3 = "3,MUS300,MUS300,Music Ensemble,unpublished,2024-01-01T20:04:05-07:00"
N4 = '4,,PHY100,"Physics, Honors",unpublished,2023-07-04T06:00:00-06:00'
N11 = "11,BIO100,BIO100,Biology,active,2023-05-31T18:00:00-06:00"
N12 = "12,EMPTY,EMPTY,Empty Course,active,2024-02-29T16:59:59-07:00"
N13 = "13,,FIN,Finished Course,concluded,2023-05-31T18:00:00-06:00"


def test_unused_courses(conn: Connection) -> None:
    # Only deleted content (a page, a topic and a quiz, an assignment and a module, a file)
    # leaves a course unused; any live or unpublished item of any kind makes it used.
    assert run(conn, "unused_courses_csv") == lines(UNUSED_HEADER, N3, N4, N11, N12, N13)
    assert run(conn, "unused_courses_csv", enrollment_term_id="3") == lines(UNUSED_HEADER, N3, N11)
    assert run(conn, "unused_courses_csv", account_id=4) == lines(UNUSED_HEADER, N4, N11, N13)


def test_unused_courses_status_outside_the_map_is_blank(conn: Connection) -> None:
    # Canvas's status CASE has no ELSE: a state it does not map is written blank, not raw.
    conn.execute(update(courses).where(courses.c.id == 12).values(workflow_state="pending"))
    assert run(conn, "unused_courses_csv", account_id=3) == lines(
        UNUSED_HEADER, N3, "12,EMPTY,EMPTY,Empty Course,,2024-02-29T16:59:59-07:00"
    )


REPORTS = {
    "recently_deleted_courses_csv": "Recently Deleted Courses",
    "unpublished_courses_csv": "Unpublished Courses",
    "public_courses_csv": "Public Courses",
    "course_storage_csv": "Course Storage",
    "unused_courses_csv": "Unused Courses",
}


@pytest.mark.parametrize("name", list(REPORTS))
def test_declaration_term_text_and_unknown_term(conn: Connection, name: str) -> None:
    report = get_report(name)
    assert report is not None
    assert report.title == REPORTS[name]
    assert list(report.parameters) == ["enrollment_term_id"]
    assert not report.parameters["enrollment_term_id"].required
    assert report.extra_text(context(conn, name)) == "Term: All Terms;"
    assert report.extra_text(context(conn, name, enrollment_term="3")) == "Term: Spring 2024;"
    with pytest.raises(ReportInputError):
        report.select_parts(context(conn, name, enrollment_term_id="sis_term_id:XX"))
