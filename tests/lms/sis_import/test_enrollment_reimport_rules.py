"""The two enrollments.csv rules that keep a re-imported SIS export from changing enrollments
(issue #17; docs/sis-import.md): a blank section_id finds the user's enrollment in a section
of the course without a SIS id before making one in the default section, and a row deleting
an enrollment of a section or course deleted before the import leaves it as it is."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, insert, select, update

from reportcard.db.tables import course_sections, courses, enrollments
from tests.clocks import T0
from tests.lms.sis_import.helpers import rows
from tests.lms.sis_import.test_enrollments import BASE, ENR


def _ids(db: Engine) -> dict[str, int]:
    with db.connect() as conn:
        found = {
            r.sis_source_id: int(r.id)
            for r in conn.execute(select(courses.c.id, courses.c.sis_source_id))
        }
        found.update(
            {
                r.sis_source_id: int(r.id)
                for r in conn.execute(select(course_sections.c.id, course_sections.c.sis_source_id))
                if r.sis_source_id
            }
        )
    return found


def _enrolled(db: Engine, user_login_sis: str) -> list[tuple[Any, ...]]:
    from reportcard.db.tables import pseudonyms

    with db.connect() as conn:
        user = conn.execute(
            select(pseudonyms.c.user_id).where(pseudonyms.c.sis_user_id == user_login_sis)
        ).scalar_one()
    return rows(
        db,
        enrollments,
        "id course_section_id role_id workflow_state",
        enrollments.c.user_id == user,
    )


def test_a_blank_section_finds_the_enrollment_in_a_section_without_sis_id(
    db: Engine,
    sis,  # type: ignore[no-untyped-def]
) -> None:
    sis({**BASE, "enrollments.csv": ENR + ",S1,U1,student,,active,,\n"})
    ids = _ids(db)
    # A second section of C1 without a SIS id (made in the UI), where U1 is a student.
    with db.begin() as conn:
        extra = conn.execute(
            insert(course_sections).values(
                root_account_id=1,
                course_id=ids["C1"],
                name="Made by hand",
                workflow_state="active",
                restrict_enrollments_to_section_dates=False,
                default_section=False,
                sis_source_id=None,
                created_at=T0,
                updated_at=T0,
            )
        ).inserted_primary_key[0]
        conn.execute(
            update(enrollments)
            .where(enrollments.c.course_section_id == ids["S1"])
            .values(course_section_id=extra)
        )
    before = _enrolled(db, "U1")
    # What the SIS export writes for it: the course, a blank section_id.
    sis({"enrollments.csv": ENR + "C1,,U1,student,,active,,\n"})
    assert _enrolled(db, "U1") == before  # no second enrollment in a default section
    defaults = rows(db, course_sections, "id", course_sections.c.default_section.is_(True))
    assert defaults == []  # and no default section made for it
    # Someone not enrolled there yet goes to the default section, as in Canvas.
    sis({"enrollments.csv": ENR + "C1,,U2,student,,active,,\n"})
    defaults = rows(db, course_sections, "id", course_sections.c.default_section.is_(True))
    assert len(defaults) == 1
    assert [r[1] for r in _enrolled(db, "U2")] == [defaults[0][0]]
    # Once U1 is also in the default section, a blank section_id means that one (Canvas).
    with db.begin() as conn:  # U1 in the default section too (made by hand)
        held = conn.execute(select(enrollments).where(enrollments.c.id == before[0][0])).one()
        copy = {k: v for k, v in held._mapping.items() if k != "id"}
        conn.execute(insert(enrollments).values({**copy, "course_section_id": defaults[0][0]}))
    sis({"enrollments.csv": ENR + "C1,,U1,student,,inactive,,\n"})
    by_section = {r[1]: r[3] for r in _enrolled(db, "U1")}
    assert by_section == {extra: "active", defaults[0][0]: "inactive"}


def test_deleting_an_enrollment_of_a_section_deleted_earlier_changes_nothing(
    db: Engine,
    sis,  # type: ignore[no-untyped-def]
) -> None:
    sis(
        {
            **BASE,
            "enrollments.csv": ENR + ",S1,U1,student,,active,,\n" + ",S2,U2,student,,active,,\n",
        }
    )
    sis({"sections.csv": "section_id,course_id,name,status\nS1,C1,Section 1,deleted\n"})
    # The SIS export writes "deleted" for U1's enrollment (its section is deleted); importing
    # that row leaves the enrollment as it is.
    assert [r[3] for r in _enrolled(db, "U1")] == ["active"]
    sis({"enrollments.csv": ENR + ",S1,U1,student,,deleted,,\n"})
    assert [r[3] for r in _enrolled(db, "U1")] == ["active"]
    # A section deleted by the same import: its enrollment rows still delete.
    sis(
        {
            "sections.csv": "section_id,course_id,name,status\nS2,C2,Section 2,deleted\n",
            "enrollments.csv": ENR + ",S2,U2,student,,deleted,,\n",
        }
    )
    assert [r[3] for r in _enrolled(db, "U2")] == ["deleted"]
    # A deleted course, the same.
    sis({"enrollments.csv": ENR + ",S2,U1,student,,active,,\n"})
    sis({"courses.csv": "course_id,short_name,long_name,status\nC2,C2,Course Two,deleted\n"})
    sis({"enrollments.csv": ENR + ",S2,U1,student,,deleted,,\n"})
    assert {r[3] for r in _enrolled(db, "U1")} == {"active"}
