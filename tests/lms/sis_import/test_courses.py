"""courses.csv, sections.csv and xlists.csv: exact rows, cross-listing and un-cross-listing."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from reportcard.db.tables import blueprint_subscriptions, course_sections, courses, enrollments
from tests.lms.sis_import.helpers import rows, snapshot

SETUP = {
    "accounts.csv": "account_id,parent_account_id,name,status\nARTS,,Arts,active\n",
    "terms.csv": "term_id,name,status\nFA24,Fall 2024,active\n",
}
COURSES = (
    "course_id,short_name,long_name,account_id,term_id,status,start_date,end_date,"
    "course_format,blueprint_course_id\n"
)
C_COLS = (
    "id course_code name account_id enrollment_term_id workflow_state course_format start_at "
    "conclude_at restrict_enrollments_to_course_dates sis_source_id"
)


def test_courses(db: Engine, sis) -> None:  # type: ignore[no-untyped-def]
    result = sis(
        {
            **SETUP,
            "courses.csv": COURSES
            + "ART1,ART 1,Art One,ARTS,FA24,active,2024-08-21T15:00:00Z,,on_campus,\n"
            + "ART2,ART 2,Art Two,,,published,,,,ART1\n"
            + "ART3,ART 3,Art Three,ARTS,FA24,completed,,,,\n",
        }
    )
    assert result.state == "imported", result.messages
    assert rows(db, courses, C_COLS) == [
        (
            1,
            "ART 1",
            "Art One",
            2,
            2,
            "claimed",
            "on_campus",
            datetime(2024, 8, 21, 15),
            None,
            True,
            "ART1",
        ),
        (2, "ART 2", "Art Two", 1, 1, "available", None, None, None, False, "ART2"),
        (3, "ART 3", "Art Three", 2, 2, "completed", None, None, None, False, "ART3"),
    ]
    assert rows(
        db, blueprint_subscriptions, "blueprint_course_id child_course_id workflow_state"
    ) == [(1, 2, "active")]
    # Blank dates and account keep; <delete> clears; active keeps a published course
    # published; dissociate ends the blueprint link.
    sis(
        COURSES
        + "ART1,ART 1,Art One,,,deleted,,<delete>,<delete>,\n"
        + "ART2,ART 2b,Art Two,,,active,,,,dissociate\n"
    )
    assert rows(db, courses, C_COLS, courses.c.id < 3) == [
        (
            1,
            "ART 1",
            "Art One",
            2,
            2,
            "deleted",
            None,
            datetime(2024, 8, 21, 15),
            None,
            True,
            "ART1",
        ),
        (2, "ART 2b", "Art Two", 1, 1, "available", None, None, None, False, "ART2"),
    ]
    assert rows(db, blueprint_subscriptions, "workflow_state") == [("deleted",)]


def test_course_row_problems(db: Engine, sis) -> None:  # type: ignore[no-untyped-def]
    result = sis(
        COURSES
        + "A,,Long,,,active,,,,\n"
        + "B,B,B,NOPE,,active,,,,\n"
        + "C,C,C,,NOPE,active,,,,\n"
        + "D,D,D,,,archived,,,,\n"
        + "E,E,E,,,active,yesterday,,,\n"
        + "F,F,F,,,active,,,online,\n"
        + "F,F2,F2,,,active,,,,\n"
        + "G,G,G,,,active,,,,NOPE\n"
    )
    assert result.warnings == [
        ("sis.csv", 2, "No short_name given for course A"),
        ("sis.csv", 3, "Account NOPE not found for course B"),
        ("sis.csv", 4, "Term NOPE not found for course C"),
        ("sis.csv", 5, 'Improper status "archived" for course D'),
        ("sis.csv", 6, 'Bad date "yesterday" in start_date for course E'),
        ("sis.csv", 8, "Duplicate course_id F in this import; only the first row was used"),
        ("sis.csv", 9, "Blueprint course NOPE not found for course G"),
    ]
    assert rows(db, courses, "sis_source_id course_code course_format") == [
        ("F", "F", "online"),
        ("G", "G", None),
    ]


SECTIONS = "section_id,course_id,name,status,start_date,end_date\n"
XLISTS = "xlist_course_id,section_id,status\n"
S_COLS = "id course_id nonxlist_course_id name workflow_state start_at end_at "
S_COLS += "restrict_enrollments_to_section_dates sis_source_id"


def test_sections_crosslisting_and_uncrosslisting(db: Engine, sis) -> None:  # type: ignore[no-untyped-def]
    sis(
        {
            "courses.csv": COURSES + "C1,C1,One,,,active,,,,\nC2,C2,Two,,,active,,,,\n",
            "sections.csv": SECTIONS
            + "S1,C1,Section 1,active,2024-09-01T14:00:00Z,\n"
            + "S2,C1,Section 2,active,,\n",
            "users.csv": "user_id,login_id,full_name,status\nU1,u1,Ann One,active\n",
            "enrollments.csv": "course_id,section_id,user_id,role,status\n"
            + ",S2,U1,student,active\n",
        }
    )
    assert rows(db, course_sections, S_COLS) == [
        (1, 1, None, "Section 1", "active", datetime(2024, 9, 1, 14), None, True, "S1"),
        (2, 1, None, "Section 2", "active", None, None, False, "S2"),
    ]
    # Cross-list S2 into C2: the section and its enrollments move, the original is kept.
    xl = sis(XLISTS + "C2,S2,active\n")
    assert xl.counts == {"xlists": 1}
    assert rows(
        db, course_sections, "id course_id nonxlist_course_id", course_sections.c.id == 2
    ) == [(2, 2, 1)]
    assert rows(db, enrollments, "course_id course_section_id") == [(2, 2)]
    # sections.csv naming the current (cross-listed) course or the original changes nothing.
    before = snapshot(db)
    sis(SECTIONS + "S2,C2,Section 2,active,,\n")
    sis(SECTIONS + "S2,C1,Section 2,active,,\n")
    assert snapshot(db) == before
    # Un-cross-list: back to C1 with its enrollments.
    sis(XLISTS + "C2,S2,deleted\n")
    assert rows(
        db, course_sections, "id course_id nonxlist_course_id", course_sections.c.id == 2
    ) == [(2, 1, None)]
    assert rows(db, enrollments, "course_id course_section_id") == [(1, 2)]
    # A third course in sections.csv moves the section there (leaving any cross-listing).
    sis(XLISTS + "C2,S2,active\n")
    sis(
        {
            "courses.csv": COURSES + "C3,C3,Three,,,active,,,,\n",
            "sections.csv": SECTIONS + "S2,C3,Section 2,active,,\n",
        }
    )
    (c3,) = rows(db, courses, "id", courses.c.sis_source_id == "C3")[0]
    assert rows(
        db, course_sections, "id course_id nonxlist_course_id", course_sections.c.id == 2
    ) == [(2, c3, None)]
    assert rows(db, enrollments, "course_id course_section_id") == [(c3, 2)]


def test_section_and_xlist_problems(db: Engine, sis) -> None:  # type: ignore[no-untyped-def]
    sis(COURSES + "C1,C1,One,,,active,,,,\n")
    result = sis(
        {
            "sections.csv": SECTIONS + "S1,NOPE,S,active,,\nS2,C1,,active,,\nS3,C1,S3,active,,\n",
            "xlists.csv": XLISTS + "NOPE,S3,active\nC1,NOPE,active\n",
        }
    )
    assert result.warnings == [
        ("sections.csv", 2, "Section S1 references course NOPE which doesn't exist"),
        ("sections.csv", 3, "No name given for section S2"),
        ("xlists.csv", 2, "A cross-listing referenced a non-existent course NOPE"),
        ("xlists.csv", 3, "A cross-listing referenced a non-existent section NOPE"),
    ]
    assert rows(db, course_sections, "sis_source_id") == [("S3",)]
