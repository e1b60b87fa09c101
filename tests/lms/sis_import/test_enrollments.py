"""enrollments.csv: sections and default sections, custom roles, observers, states."""

from __future__ import annotations

from sqlalchemy import Engine

from reportcard.db.tables import course_sections, enrollments
from tests.lms.sis_import.helpers import rows, snapshot

BASE = {
    "courses.csv": "course_id,short_name,long_name,status\nC1,C1,Course One,active\n"
    "C2,C2,Course Two,active\n",
    "sections.csv": "section_id,course_id,name,status\nS1,C1,Section 1,active\n"
    "S2,C2,Section 2,active\n",
    "users.csv": "user_id,login_id,full_name,status\nU1,u1,Ann,active\nU2,u2,Ben,active\n"
    "P1,p1,Pat Parent,active\n",
}
ENR = (
    "course_id,section_id,user_id,role,role_id,status,associated_user_id,limit_section_privileges\n"
)
COLS = (
    "id user_id course_id course_section_id role_id type workflow_state associated_user_id "
    "limit_privileges_to_course_section sis_pseudonym_id sis_batch_id"
)


def test_enrollments(db: Engine, sis) -> None:  # type: ignore[no-untyped-def]
    result = sis(
        {
            **BASE,
            "enrollments.csv": ENR
            + ",S1,U1,student,,active,,\n"
            + "C1,,U2,teacher,,active,,true\n"  # no section: the course's default section
            + ",S1,U2,Pixel Engineer,,inactive,,\n"  # a custom role, by name
            + ",S2,U1,,7,completed,,\n"  # a custom role, by id
            + ",S1,P1,observer,,active,U1,\n"
            + "C2,S1,U1,student,,active,,\n"  # section and course unrelated
            + ",S1,NOPE,student,,active,,\n"
            + ",S1,U1,wizard,,active,,\n"
            + ",S1,U1,student,,concluded,,\n",  # what the SIS export writes: completed
        }
    )
    b = result.id
    assert result.warnings == [
        (
            "enrollments.csv",
            7,
            "An enrollment listed a section (S1) and a course (C2) that are unrelated",
        ),
        ("enrollments.csv", 8, "User not found for enrollment (User ID: NOPE)"),
        ("enrollments.csv", 9, 'Improper role "wizard" for enrollment of U1 in S1'),
    ]
    # The default section of C1 was made (no SIS id; its id comes after S1 and S2).
    made = rows(
        db,
        course_sections,
        "id course_id name default_section sis_source_id",
        course_sections.c.default_section.is_(True),
    )
    default = made[0][0]
    assert made == [(default, 1, "Course One", True, None)] and default > 2
    assert rows(db, enrollments, COLS) == [
        (1, 1, 1, 1, 1, "StudentEnrollment", "completed", None, False, 1, b),
        (2, 2, 1, default, 2, "TeacherEnrollment", "active", None, True, 2, b),
        (3, 2, 1, 1, 7, "TaEnrollment", "inactive", None, False, 2, b),
        (4, 1, 2, 2, 7, "TaEnrollment", "completed", None, False, 1, b),
        (5, 3, 1, 1, 5, "ObserverEnrollment", "active", 1, False, 3, b),
    ]
    # Delete, then bring back; the same row is updated, never duplicated.
    sis(ENR + ",S1,U1,student,,deleted,,\n")
    assert rows(db, enrollments, "id workflow_state", enrollments.c.id == 1) == [(1, "deleted")]
    sis(ENR + ",S1,U1,student,,active,,\n")
    assert rows(db, enrollments, "id workflow_state", enrollments.c.id == 1) == [(1, "active")]
    before = snapshot(db)
    sis(ENR + ",S1,U1,student,,active,,\n")
    assert snapshot(db) == before


def test_deleted_last_completed(db: Engine, sis) -> None:  # type: ignore[no-untyped-def]
    sis(
        {
            **BASE,
            "enrollments.csv": ENR + ",S1,U1,student,,active,,\n,S1,U1,Pixel Engineer,,active,,\n",
        }
    )
    sis(ENR + ",S1,U1,student,,deleted_last_completed,,\n")
    sis(ENR + ",S1,U1,Pixel Engineer,,deleted_last_completed,,\n")
    # The first still had another live enrollment in C1 (deleted); the second was the last.
    assert rows(db, enrollments, "id workflow_state") == [(1, "deleted"), (2, "completed")]


def test_skip_deletes(db: Engine, sis) -> None:  # type: ignore[no-untyped-def]
    sis({**BASE, "enrollments.csv": ENR + ",S1,U1,student,,active,,\n"})
    result = sis(ENR + ",S1,U1,student,,deleted,,\n", options={"skip_deletes": True})
    assert result.state == "imported"
    assert rows(db, enrollments, "workflow_state") == [("active",)]
