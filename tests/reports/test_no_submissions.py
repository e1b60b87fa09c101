"""``students_with_no_submissions_csv`` on the hand-built institution (spec §4.7).

The run's "now" is 2024-12-01 12:00 UTC (05:00 in Denver), so without dates the window is
2024-11-17T05:00-07:00 .. 2024-12-01T05:00-07:00. Submissions in it: Ann's and Ben's in
Painting, Dev's in Painting, Ann's in Physics and Choir; Ben's Sculpture one (Nov 10) and
Dev's Choir one (Nov 5) are older; Cara's Painting one was never submitted.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Connection

from reportcard.reports.catalog import ONE_RANGE_SCALE, get_report

from .learning_institution import build, extra_text, lines, run_file

REPORT = "students_with_no_submissions_csv"
HEADER = (
    "user id,user sis id,user name,section id,section sis id,section name,course id,"
    "course sis id,course name"
)
WINDOW = "Start At: 2024-11-17T05:00:00-07:00; End At: 2024-12-01T05:00:00-07:00;"

CHOIR = "3,CHOIR-1,Choir 1,2,CHOIR200,Choir"
N3 = '3,,"Chen, Cara",1,PAINT-A,Painting A,1,PAINT101,Painting'
N5 = f'1,S1,"Archer, Ann",{CHOIR}'
# One row per login of the root account: Ben's ben.alt (no SIS id) and ben.
N6A = f'2,,"Baker, Ben",{CHOIR}'
N6B = f'2,S2,"Baker, Ben",{CHOIR}'
# Every non-deleted login counts, Gus's Instructure Identity one too.
N9A = '7,S7,"Gray, Gus",4,PHYS-1,Physics 1,3,PHYS100,Physics'
N9B = '7,,"Gray, Gus",4,PHYS-1,Physics 1,3,PHYS100,Physics'
N10A = '2,,"Baker, Ben",5,SCULP-1,Sculpture 1,4,SCULP300,Sculpture'
N10B = '2,S2,"Baker, Ben",5,SCULP-1,Sculpture 1,4,SCULP300,Sculpture'
N13A = '2,,"Baker, Ben",7,CHEM-1,Chemistry 1,6,CHEM100,Chemistry'
N13B = '2,S2,"Baker, Ben",7,CHEM-1,Chemistry 1,6,CHEM100,Chemistry'
N15A = '7,S7,"Gray, Gus",8,,Old Lab 1,7,,Old Lab'
N15B = '7,,"Gray, Gus",8,,Old Lab 1,7,,Old Lab'
# Dev's deleted login gives no row.
N16 = f'4,S4B,"Diaz, Dev",{CHOIR}'


BUILD = build  # what the conn fixture (conftest.py) writes


def test_default_window(conn: Connection) -> None:
    # Every enrollment state (Cara completed, Ben deleted, Gus invited, Dev rejected), every
    # course state but deleted (Ceramics); Eve has no login on this root; keyed by enrollment.
    assert run_file(conn, REPORT) == lines(
        HEADER, N3, N6A, N6B, N9A, N9B, N10A, N10B, N13A, N13B, N15A, N15B, N16
    )
    assert extra_text(conn, REPORT) == f"Term: All Terms; {WINDOW} Enrollment States: all;"


def test_enrollment_states_and_state_column(conn: Connection) -> None:
    header = f"{HEADER},enrollment state"
    assert run_file(
        conn, REPORT, include_enrollment_state="true", enrollment_state=["completed", "deleted"]
    ) == lines(
        header,
        f"{N3},completed",
        f"{N6A},deleted",
        f"{N6B},deleted",
        f"{N10A},completed",
        f"{N10B},completed",
        f"{N15A},completed",
        f"{N15B},completed",
    )
    assert extra_text(
        conn, REPORT, include_enrollment_state="1", enrollment_state=["completed", "deleted"]
    ) == (
        f"Term: All Terms; {WINDOW} Include Enrollment State: true; "
        "Enrollment States: completed deleted;"
    )


@pytest.mark.parametrize("states", ["all", ["active", "all"], [], ""])
def test_all_states(conn: Connection, states: object) -> None:
    assert run_file(conn, REPORT, enrollment_state=states) == run_file(conn, REPORT)


def test_unknown_state_matches_nothing(conn: Connection) -> None:
    assert run_file(conn, REPORT, enrollment_state="bogus") == lines(HEADER)
    assert extra_text(conn, REPORT, enrollment_state="bogus").endswith("Enrollment States: bogus;")
    assert run_file(conn, REPORT, enrollment_state="active") == lines(HEADER, N13A, N13B)


def test_term_and_sub_account(conn: Connection) -> None:
    assert run_file(conn, REPORT, enrollment_term_id="3") == lines(HEADER, N9A, N9B, N13A, N13B)
    assert extra_text(conn, REPORT, enrollment_term_id="3").startswith("Term: Spring 2025; ")
    assert run_file(conn, REPORT, account_id=2) == lines(HEADER, N3, N6A, N6B, N10A, N10B, N16)


def test_course_skips_the_sub_account_scope(conn: Connection) -> None:
    # Choir lies outside the School of Science, but a course parameter is taken as given.
    expected = lines(HEADER, N6A, N6B, N16)
    assert run_file(conn, REPORT, account_id=4, course_id="2") == expected
    assert run_file(conn, REPORT, course="sis_course_id:CHOIR200") == expected
    assert extra_text(conn, REPORT, course_id="2") == (
        f"Term: All Terms; {WINDOW} For Course: 2; Enrollment States: all;"
    )


def test_start_only_window_is_two_weeks(conn: Connection) -> None:
    # 2024-11-01 in Denver (MDT) to two calendar weeks later (MST): Dev's Nov 5 submission is
    # inside; Ann's Nov 29 one is not.
    assert run_file(conn, REPORT, course_id="2", start_at="2024-11-01") == lines(
        HEADER, N5, N6A, N6B
    )
    assert extra_text(conn, REPORT, course_id="2", start_at="2024-11-01") == (
        "Term: All Terms; Start At: 2024-11-01T00:00:00-06:00; "
        "End At: 2024-11-15T00:00:00-07:00; For Course: 2; Enrollment States: all;"
    )


def test_long_window_keeps_its_end(conn: Connection) -> None:
    params = {"course_id": "2", "start_at": "2024-10-01", "end_at": "2024-11-20T12:00:00Z"}
    assert run_file(conn, REPORT, **params) == lines(HEADER, N5, N6A, N6B, N16)
    assert extra_text(conn, REPORT, **params) == (
        "Term: All Terms; Start At: 2024-11-06T05:00:00-07:00; "
        "End At: 2024-11-20T05:00:00-07:00; For Course: 2; Enrollment States: all;"
    )


def test_end_only_window_and_exclusive_bounds(conn: Connection) -> None:
    # Dev submitted at exactly the end (2024-11-05 12:00 UTC): not inside the window.
    params = {"course_id": "2", "end_at": "2024-11-05T05:00:00"}
    assert run_file(conn, REPORT, **params) == lines(HEADER, N5, N6A, N6B, N16)
    assert extra_text(conn, REPORT, **params) == (
        "Term: All Terms; Start At: 2024-10-22T05:00:00-06:00; "
        "End At: 2024-11-05T05:00:00-07:00; For Course: 2; Enrollment States: all;"
    )
    # One second later it is.
    later = {"course_id": "2", "end_at": "2024-11-05T05:00:01"}
    assert run_file(conn, REPORT, **later) == lines(HEADER, N5, N6A, N6B)


def test_unparsable_dates_are_absent(conn: Connection) -> None:
    assert run_file(conn, REPORT, start_at="soon", end_at="later") == run_file(conn, REPORT)


def test_declaration() -> None:
    report = get_report(REPORT)
    assert report is not None
    assert report.title == "Students with no submissions"
    assert list(report.parameters) == [
        "enrollment_term_id",
        "course_id",
        "start_at",
        "end_at",
        "include_enrollment_state",
        "enrollment_state",
    ]
    assert [n for n, p in report.parameters.items() if p.required] == ["start_at", "end_at"]


def test_postgresql_plans_it_in_larger_ranges(conn: Connection) -> None:
    """Each shard hashes the whole window of submissions: PostgreSQL's are ONE_RANGE_SCALE
    times the setting's rows (one range on `large`), SQLite's the setting's."""
    from .learning_institution import context

    report = get_report(REPORT)
    assert report is not None
    ctx = context(conn, REPORT, start_at="2024-11-17", end_at="2024-12-01")
    scale = report.part(report.select_parts(ctx)[0]).build(ctx).shard_scale
    assert scale == (ONE_RANGE_SCALE if conn.dialect.name == "postgresql" else 1)
