"""The enrollments row generator: the one table with millions of rows, so it is kept lean.

Per course it precomputes ids, section lists, state tables and timestamp strings; per row it
does list indexing, two or three ``random()`` calls and a dict lookup for observers.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from random import Random
from typing import Any

from .clock import ANCHOR, ts
from .model import Course, Plan

Row = tuple[Any, ...]

COLUMNS = (
    "id",
    "root_account_id",
    "user_id",
    "course_id",
    "course_section_id",
    "role_id",
    "type",
    "workflow_state",
    "associated_user_id",
    "limit_privileges_to_course_section",
    "sis_pseudonym_id",
    "sis_batch_id",
    "start_at",
    "end_at",
    "created_at",
    "updated_at",
)


def _table(*weights: tuple[str, int]) -> list[str]:
    out: list[str] = []
    for state, w in weights:
        out.extend([state] * w)
    assert len(out) == 100
    return out


# Enrollment workflow_state tables (100 entries) by course state, for students and for staff.
_STUDENT_STATES = {
    "available": _table(
        ("active", 88),
        ("invited", 3),
        ("inactive", 2),
        ("deleted", 2),
        ("completed", 2),
        ("rejected", 1),
        ("creation_pending", 2),
    ),
    "created": _table(
        ("creation_pending", 40), ("invited", 20), ("active", 35), ("deleted", 3), ("rejected", 2)
    ),
    "completed": _table(
        ("completed", 85), ("active", 8), ("inactive", 3), ("deleted", 2), ("rejected", 2)
    ),
    "deleted": _table(("deleted", 90), ("active", 6), ("completed", 4)),
}
_STUDENT_STATES["claimed"] = _STUDENT_STATES["created"]
_STAFF_STATES = {
    "available": _table(("active", 97), ("deleted", 3)),
    "created": _table(("active", 90), ("invited", 10)),
    "claimed": _table(("active", 90), ("invited", 10)),
    "completed": _table(("completed", 90), ("active", 10)),
    "deleted": _table(("deleted", 100)),
}


def estimate(plan: Plan) -> int:
    """Expected row count (observer enrollments are drawn per row, so this is approximate)."""
    students = sum(c.n_students for c in plan.courses)
    staff = sum(
        1
        + len(c.tas)
        + (c.designer is not None)
        + (c.test_student is not None)
        + 2 * len(c.dead_sections)
        for c in plan.courses
    )
    observed = 0.7 * len(plan.observer_of) / len(plan.students)
    return students + staff + int(students * observed)


def _times(created: str, rng: Random) -> tuple[list[str], list[str]]:
    """Eight creation times in the two weeks after the course's, and matching update times
    (none after the anchor date)."""
    start = datetime.fromisoformat(created)
    made = [min(ANCHOR, start + timedelta(seconds=rng.randrange(14 * 86400))) for _ in range(8)]
    return [ts(m) for m in made], [
        ts(min(ANCHOR, m + timedelta(days=rng.randrange(60)))) for m in made
    ]


def rows(plan: Plan) -> Iterator[Row]:
    """All enrollments, course by course: staff, then students (each followed by their
    observer's enrollment when there is one), the test student, and a couple of deleted
    enrollments in each deleted section."""
    rng = Random(f"{plan.seed}:enrollments")
    rnd = rng.random
    root = plan.root_id
    ubase, cbase, sbase = (plan.ids(t, 0) for t in ("users", "courses", "course_sections"))
    sis_login, observer_of = plan.sis_login, plan.observer_of
    pool = plan.students
    roles = plan.role_ids
    student, observer, auditor = (
        roles["StudentEnrollment"],
        roles["ObserverEnrollment"],
        roles["Auditor"],
    )
    teacher, ta, pixel, designer = (
        roles["TeacherEnrollment"],
        roles["TaEnrollment"],
        roles["Pixel Engineer"],
        roles["DesignerEnrollment"],
    )
    dated_start, dated_end = ts(ANCHOR - timedelta(days=60)), ts(ANCHOR + timedelta(days=14))
    eid = plan.ids("enrollments", 0)
    for ci, c in enumerate(plan.courses):
        cid = cbase + ci
        secs = [sbase + s for s in c.sections]
        ns, sec0 = len(secs), secs[0]
        states = _STUDENT_STATES[c.state]
        staff_states = _STAFF_STATES[c.state]
        batch = _batch(plan, c, ci)
        created, updated = _times(c.created, rng)

        staff = [(c.teacher, teacher, "TeacherEnrollment", False)]
        for user, custom in c.tas:
            staff.append((user, pixel if custom else ta, "TaEnrollment", rnd() < 0.2))
        if c.designer is not None:
            staff.append((c.designer, designer, "DesignerEnrollment", False))
        for user, role, kind, limit in staff:
            yield (
                eid,
                root,
                ubase + user,
                cid,
                sec0,
                role,
                kind,
                staff_states[int(rnd() * 100)],
                None,
                limit,
                (sis_login[user] or None) if batch else None,
                batch,
                None,
                None,
                created[0],
                updated[0],
            )
            eid += 1

        off, span, start, stride = c.roster_offset, c.roster_span, c.roster_start, c.roster_stride
        for k in range(c.n_students):
            u = pool[off + (start + k * stride) % span]
            state = states[int(rnd() * 100)]
            sec = secs[int(rnd() * ns)] if ns > 1 else sec0
            role, limit, b, s_at, e_at = student, False, batch, None, None
            misc = rnd()
            if misc < 0.03:  # the unusual 3%: auditors, limited, hand-added, dated
                if misc < 0.005:
                    role = auditor
                elif misc < 0.015:
                    limit = True
                elif misc < 0.025:
                    b = None
                else:
                    s_at, e_at = dated_start, dated_end
            t = k & 7
            yield (
                eid,
                root,
                ubase + u,
                cid,
                sec,
                role,
                "StudentEnrollment",
                state,
                None,
                limit,
                (sis_login[u] or None) if b else None,
                b,
                s_at,
                e_at,
                created[t],
                updated[t],
            )
            eid += 1
            o = observer_of.get(u)
            if o is not None and rnd() < 0.7:
                yield (
                    eid,
                    root,
                    ubase + o,
                    cid,
                    sec,
                    observer,
                    "ObserverEnrollment",
                    staff_states[int(rnd() * 100)],
                    ubase + u,
                    False,
                    (sis_login[o] or None) if batch else None,
                    batch,
                    None,
                    None,
                    created[t],
                    updated[t],
                )
                eid += 1

        if c.test_student is not None:
            yield (
                eid,
                root,
                ubase + c.test_student,
                cid,
                sec0,
                student,
                "StudentViewEnrollment",
                "active",
                None,
                False,
                None,
                None,
                None,
                None,
                created[0],
                created[0],
            )
            eid += 1
        for dead in c.dead_sections:
            for k in range(2):
                u = pool[off + (start + k * stride) % span]
                yield (
                    eid,
                    root,
                    ubase + u,
                    cid,
                    sbase + dead,
                    student,
                    "StudentEnrollment",
                    "deleted",
                    None,
                    False,
                    (sis_login[u] or None) if batch else None,
                    batch,
                    None,
                    None,
                    created[k],
                    updated[k],
                )
                eid += 1


def _batch(plan: Plan, course: Course, index: int) -> int | None:
    """Enrollments of SIS courses come from one of the term's two later imports."""
    if course.batch is None:
        return None
    term_batch = plan.terms[course.term].batch
    if term_batch is None:
        return plan.ids("sis_batches", course.batch)
    return plan.ids("sis_batches", term_batch + 1 + index % 2)
