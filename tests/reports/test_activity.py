"""``last_user_access_csv``, ``last_enrollment_activity_csv`` and ``zero_activity_csv`` on the
hand-built institution of ``activity_institution.py``: exact files (spec other-reports.md
§4.3, §4.4, §4.13)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Connection

from reportcard.reports.catalog import ONE_RANGE_SCALE, get_report
from reportcard.reports.params import ReportInputError
from tests.databases import lane

from .activity_institution import OTHER_ROOT, build
from .institution import context, lines, run_file

BUILD = build  # what the conn fixture (conftest.py) writes


def run(conn: Connection, report: str, account_id: int = 1, **params: Any) -> str:
    return run_file(conn, report, report.removesuffix("_csv"), account_id=account_id, **params)


def settings_text(conn: Connection, report: str, **params: Any) -> str:
    declaration = get_report(report)
    assert declaration is not None
    return declaration.extra_text(context(conn, report, **params))


# ---------------------------------------------------------------- last_user_access_csv

ACCESS = "last_user_access_csv"
ACCESS_HEADER = "user id,user sis id,user name,last access at,last ip"
U1 = '1,S001,"Smith, Alice",2024-05-30T10:45:10-06:00,10.0.0.1'
U2 = '2,S002,"Jones, Bob",,'
# carol and carol.t share T001: carol's (the lower login id) is written, although carol.t
# made the later request: Canvas walks the logins in id order and skips a (user, SIS id)
# pair it has already written.
U3 = '3,T001,"Teacher, Carol",2024-01-10T13:00:00-07:00,192.168.1.5'
# dan (suspended) and dan2 share "no SIS id": dan has the lower login id.
U4 = '4,,"Nosis, Dan",2024-04-01T08:00:00-06:00,10.0.0.4'
U5 = '5,S005,"Gone, Eve",2023-12-01T02:00:00-07:00,10.0.0.5'
U7A = '7,G1,"Multi, Grace",2024-02-01T10:30:00-07:00,10.0.0.7'
U7B = '7,G2,"Multi, Grace",,'
U7C = '7,,"Multi, Grace",2024-05-01T06:00:00-06:00,10.0.0.8'
U8 = '8,,"Idle, Hank",,'
U9 = '9,S009,"Science, Ivy",2024-03-15T12:00:00-06:00,10.0.0.9'
U10 = '10,S010,"Dropped, Jill",2024-02-01T17:00:00-07:00,10.0.0.10'


def test_last_user_access_lists_one_row_per_user_and_sis_id(conn: Connection) -> None:
    # Not deleted logins of the root; Frank has only a root-50 login.
    assert run(conn, ACCESS) == lines(ACCESS_HEADER, U1, U2, U3, U4, U7A, U7B, U8, U9, U10)


def test_last_user_access_include_deleted_adds_deleted_logins(conn: Connection) -> None:
    assert run(conn, ACCESS, include_deleted="true") == lines(
        ACCESS_HEADER, U1, U2, U3, U4, U5, U7A, U7B, U7C, U8, U9, U10
    )


def test_last_user_access_term_needs_an_enrollment_in_the_term(conn: Connection) -> None:
    # Spring 2024: any role (Dan only observes), not a deleted enrollment (Jill's).
    assert run(conn, ACCESS, enrollment_term_id="3") == lines(
        ACCESS_HEADER, U1, U2, U3, U4, U7A, U7B, U9
    )
    # include_deleted counts Jill's deleted enrollment and adds grace-c's deleted login.
    assert run(conn, ACCESS, enrollment_term_id="sis_term_id:SP24", include_deleted="1") == lines(
        ACCESS_HEADER, U1, U2, U3, U4, U7A, U7B, U7C, U9, U10
    )


def test_last_user_access_course(conn: Connection) -> None:
    # Root 50 has a course with the same SIS id; the reference resolves in root 1.
    expected = lines(ACCESS_HEADER, U1, U3, U4)
    assert run(conn, ACCESS, course_id="1") == expected
    assert run(conn, ACCESS, course_id="sis_course_id:ART101") == expected
    assert run(conn, ACCESS, course="1", include_deleted="true") == lines(
        ACCESS_HEADER, U1, U3, U4, U5
    )


def test_last_user_access_sub_account_scope_is_user_association(conn: Connection) -> None:
    assert run(conn, ACCESS, account_id=4) == lines(ACCESS_HEADER, U1, U9)
    # Jill's only enrollment under Arts is deleted: she is not associated with it.
    assert run(conn, ACCESS, account_id=2) == lines(ACCESS_HEADER, U1, U2, U3, U4, U7A, U7B)


def test_last_user_access_other_root(conn: Connection) -> None:
    assert run(conn, ACCESS, account_id=OTHER_ROOT) == lines(
        ACCESS_HEADER,
        '2,S002,"Jones, Bob",2024-05-05T00:00:00Z,10.5.0.2',
        '6,F001,"Other, Frank",2024-05-01T00:00:00Z,10.0.0.6',
    )


def test_last_user_access_settings_text(conn: Connection) -> None:
    assert settings_text(conn, ACCESS) == "Term: All Terms;"
    assert (
        settings_text(conn, ACCESS, enrollment_term_id="3", course_id="2", include_deleted="on")
        == "Include Deleted/Concluded Objects; Term: Spring 2024; For Course: 2;"
    )


def test_unknown_term_or_course_fails_the_run(conn: Connection) -> None:
    declaration = get_report(ACCESS)
    assert declaration is not None
    bad: list[dict[str, Any]] = [
        {"enrollment_term_id": "999"},
        {"enrollment_term_id": "50"},  # a term of another root account
        {"enrollment_term": "sis_term_id:NOPE"},
        {"course_id": "sis_course_id:NOPE"},
        {"course_id": "50"},
    ]
    for params in bad:
        with pytest.raises(ReportInputError):
            declaration.select_parts(context(conn, ACCESS, **params))
    # Blank values are absent.
    ctx = context(conn, ACCESS, enrollment_term_id="", course_id=" ")
    assert declaration.select_parts(ctx) == ["last_user_access"]


# ---------------------------------------------------------------- last_enrollment_activity_csv

LAST = "last_enrollment_activity_csv"
LAST_HEADER = "user id,user name,last activity at"
A1 = '1,"Smith, Alice",2024-05-15T03:00:00-06:00'
A1_MUSIC = '1,"Smith, Alice",2024-03-01T03:00:00-07:00'
A3 = '3,"Teacher, Carol",2024-05-01T09:00:00-06:00'
A4 = '4,"Nosis, Dan",2023-09-01T06:00:00-06:00'
A5 = '5,"Gone, Eve",2023-09-05T06:00:00-06:00'
A6 = '6,"Other, Frank",2024-04-15T14:00:00-06:00'
A10 = '10,"Dropped, Jill",2024-02-02T01:00:00-07:00'


def test_last_enrollment_activity_is_the_latest_per_user(conn: Connection) -> None:
    # Any type and state (Eve's and Jill's deleted enrollments count), users of other roots
    # (Frank) included, users without activity (Bob, Grace, Ivy, Hank) left out.
    assert run(conn, LAST) == lines(LAST_HEADER, A1, A3, A4, A5, A6, A10)


def test_last_enrollment_activity_course_and_term(conn: Connection) -> None:
    # Restricted to Music Theory, Alice's latest activity is an earlier one.
    assert run(conn, LAST, course_id="2") == lines(LAST_HEADER, A1_MUSIC, A6, A10)
    assert run(conn, LAST, enrollment_term_id="2") == lines(
        LAST_HEADER, '1,"Smith, Alice",2023-10-01T04:00:00-06:00', A3, A4, A5
    )


def test_last_enrollment_activity_sub_account(conn: Connection) -> None:
    assert run(conn, LAST, account_id=4) == lines(LAST_HEADER, A1)
    # Courses under Arts; Eve and Jill are not associated with Arts (deleted enrollments).
    assert run(conn, LAST, account_id=2) == lines(LAST_HEADER, A1_MUSIC, A3, A4, A6)


def test_last_enrollment_activity_is_planned_over_the_users_of_its_scope(
    conn: Connection,
) -> None:
    """The cheap plan counts users (not the GROUP BY), but only those of the run's account:
    its range covers every row's key, and a sub-account run is not spread over every user."""
    from sqlalchemy import func, select

    from reportcard.db.tables import user_account_associations as uaa
    from reportcard.runs.query import bounds_select

    declaration = get_report(LAST)
    assert declaration is not None
    for account in (1, 2, 4):
        ctx = context(conn, LAST, account_id=account)
        pq = declaration.part("last_enrollment_activity").build(ctx)
        lo, hi, n = conn.execute(bounds_select(pq)).one()
        keys = [
            int(line.split(",")[0]) for line in run(conn, LAST, account_id=account).splitlines()[1:]
        ]
        assert keys and lo <= min(keys) and max(keys) <= hi
        if account != 1:
            associated = conn.execute(
                select(func.count()).where(uaa.c.account_id == account)
            ).scalar_one()
            assert n == associated


def test_last_enrollment_activity_settings_text(conn: Connection) -> None:
    assert settings_text(conn, LAST, enrollment_term_id="2") == "Term: Fall 2023;"
    assert settings_text(conn, LAST, course_id="sis_course_id:MUS200") == (
        "Term: All Terms; For Course: 2;"
    )


# ---------------------------------------------------------------- zero_activity_csv

ZERO = "zero_activity_csv"
ZERO_HEADER = (
    "user id,user sis id,name,section id,section sis id,section name,course id,course sis id,"
    "course name"
)
MUSIC = "21,MUS200-S,Music Theory,2,MUS200,Music Theory"
Z_BOB = f'2,S002,"Jones, Bob",{MUSIC}'
Z_GRACE_A = f'7,G1,"Multi, Grace",{MUSIC}'
Z_GRACE_B = f'7,G2,"Multi, Grace",{MUSIC}'
Z_IVY = '9,S009,"Science, Ivy",111,BIO-A,Biology A,11,BIO100,Biology'
Z_ALICE_OLD = '1,S001,"Smith, Alice",81,,Old College Course,8,OLD1,Old College Course'


def test_zero_activity_without_start(conn: Connection) -> None:
    # Active student enrollments in published courses and active sections, one row per
    # active (not suspended, not deleted) login of the enrollment's root account. Alice's
    # inactive Music Theory section is skipped because her Theory Lab enrollment has activity.
    assert run(conn, ZERO) == lines(ZERO_HEADER, Z_BOB, Z_GRACE_A, Z_GRACE_B, Z_IVY, Z_ALICE_OLD)


def test_zero_activity_since_start(conn: Connection) -> None:
    # 2024-05-20 in Denver: no activity after it. Dan has two logins, one suspended: only
    # the active one gives a row (Canvas's query asks for p.workflow_state = 'active').
    alice = '1,S001,"Smith, Alice"'
    dan_art = '4,,"Nosis, Dan",11,ART101-S,Intro to Art,1,ART101,Intro to Art'
    assert run(conn, ZERO, start_at="2024-05-20") == lines(
        ZERO_HEADER,
        f"{alice},11,ART101-S,Intro to Art,1,ART101,Intro to Art",
        f"{alice},{MUSIC}",
        f"{alice},22,,Theory Lab,2,MUS200,Music Theory",
        Z_BOB,
        dan_art,
        Z_GRACE_A,
        Z_GRACE_B,
        Z_IVY,
        f"{alice},111,BIO-A,Biology A,11,BIO100,Biology",
        Z_ALICE_OLD,
    )


def test_zero_activity_start_bounds(conn: Connection) -> None:
    # Alice's Biology activity is at 2024-05-15T09:00:00Z: at the start itself it still
    # counts as activity; a second later it is before the start.
    alice_bio = '1,S001,"Smith, Alice",111,BIO-A,Biology A,11,BIO100,Biology'
    at = run(conn, ZERO, course_id="11", start_at="2024-05-15T09:00:00Z")
    assert at == lines(ZERO_HEADER, Z_IVY)
    assert run(conn, ZERO, course_id="11", start_at="2024-05-15T03:00:00") == at  # Denver
    assert run(conn, ZERO, course_id="11", start_at="2024-05-15T09:00:01Z") == lines(
        ZERO_HEADER, Z_IVY, alice_bio
    )
    # An unreadable date is no date.
    assert run(conn, ZERO, start_at="soon") == run(conn, ZERO)


def test_zero_activity_term_course_and_sub_account(conn: Connection) -> None:
    assert run(conn, ZERO, enrollment_term_id="3") == lines(
        ZERO_HEADER, Z_BOB, Z_GRACE_A, Z_GRACE_B, Z_IVY
    )
    assert run(conn, ZERO, course_id="2") == lines(ZERO_HEADER, Z_BOB, Z_GRACE_A, Z_GRACE_B)
    assert run(conn, ZERO, account_id=4) == lines(ZERO_HEADER, Z_IVY)
    assert run(conn, ZERO, account_id=2) == lines(ZERO_HEADER, Z_BOB, Z_GRACE_A, Z_GRACE_B)
    # A course replaces the sub-account scope.
    assert run(conn, ZERO, account_id=4, course_id="2") == lines(
        ZERO_HEADER, Z_BOB, Z_GRACE_A, Z_GRACE_B
    )


def test_zero_activity_is_planned_over_its_candidate_enrollments(conn: Connection) -> None:
    """On PostgreSQL the planner counts the root's active student enrollments without activity
    of their own (since the start), not every enrollment: its shards are cut over the rows the
    part reads. SQLite counts them too without a start date (from ix_enrollments_no_activity),
    and the root's enrollments with one. The range covers every written row's enrollment."""
    import csv
    import io
    from datetime import datetime

    from sqlalchemy import func, or_, select

    from reportcard.db.tables import enrollments as e
    from reportcard.runs.query import bounds_select

    declaration = get_report(ZERO)
    assert declaration is not None
    active = [
        e.c.root_account_id == 1,
        e.c.type == "StudentEnrollment",
        e.c.workflow_state == "active",
    ]
    since = datetime(2024, 5, 20, 6)  # 2024-05-20 in Denver, in UTC
    cases = [
        ({}, e.c.last_activity_at.is_(None), None),
        (
            {"start_at": "2024-05-20"},
            or_(e.c.last_activity_at.is_(None), e.c.last_activity_at < since),
            None,
        ),
        ({"course_id": "2"}, e.c.last_activity_at.is_(None), e.c.course_id == 2),
    ]
    for params, own, course in cases:
        ctx = context(conn, ZERO, **params)
        lo, hi, n = conn.execute(bounds_select(declaration.part("zero_activity").build(ctx))).one()
        where = [*active, own, *([] if course is None else [course])]
        candidates = conn.execute(select(func.count()).where(*where)).scalar_one()
        every = conn.execute(select(func.count()).where(e.c.root_account_id == 1)).scalar_one()
        assert candidates < every
        counted = conn.dialect.name == "postgresql" or "start_at" not in params
        assert n == (candidates if counted else every)
        # PostgreSQL plans it in ranges 8 times the setting's rows: one range on `large`.
        scale = declaration.part("zero_activity").build(ctx).shard_scale
        assert scale == (ONE_RANGE_SCALE if conn.dialect.name == "postgresql" else 1)
        written = list(csv.reader(io.StringIO(run(conn, ZERO, **params))))[1:]
        assert written
        for row in written:
            user, course_id = int(row[0]), int(row[6])
            ids = conn.execute(
                select(e.c.id).where(*active, e.c.user_id == user, e.c.course_id == course_id)
            ).scalars()
            assert any(lo <= i <= hi for i in ids)


@pytest.mark.sqlite_only
def test_zero_activity_reads_its_candidates_from_their_partial_index(conn: Connection) -> None:
    """Without a start date, SQLite's statement and the planner's count can read the candidate
    enrollments from ix_enrollments_no_activity alone (the index's terms are the part's own
    conditions), with a course or not: ``INDEXED BY`` plans them
    over it as a covering index. With a start date, whose candidates the index does not hold,
    it cannot. (Which index the statement takes is the data's: on `large` it is this one.)"""
    from sqlalchemy.exc import OperationalError

    from reportcard.runs.query import bounds_select, range_select

    declaration = get_report(ZERO)
    assert declaration is not None
    for params, usable in [
        ({}, True),
        ({"course_id": "2"}, True),
        ({"start_at": "2024-05-20"}, False),
    ]:
        ctx = context(conn, ZERO, **params)
        pq = declaration.part("zero_activity").build(ctx)
        for stmt in (bounds_select(pq), range_select(pq, 1, 10**9)):
            # The values as literals: a first prepare does not know the bound ones (SQLite
            # prepares again with them before the first step, and then proves the terms).
            compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
            sql = str(compiled).replace(
                "FROM enrollments", "FROM enrollments INDEXED BY ix_enrollments_no_activity", 1
            )
            if not usable:
                with pytest.raises(OperationalError, match="no query solution"):
                    conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}").all()
                continue
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}").all()
            details = " | ".join(str(row[-1]) for row in plan)
            assert "COVERING INDEX ix_enrollments_no_activity" in details, (params, details)
        if usable:
            # The count picks it unasked, the values bound, on a database without statistics
            # (this one: nothing ran ANALYZE), where ix_enrollments_root would read each row.
            assert not conn.exec_driver_sql(
                "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'"
            ).all()
            compiled = bounds_select(pq).compile(dialect=conn.dialect)
            binds = tuple(compiled.params[k] for k in compiled.positiontup or ())
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", binds).all()
            details = " | ".join(str(row[-1]) for row in plan)
            assert "COVERING INDEX ix_enrollments_no_activity" in details, (params, details)


def _plan_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _plan_nodes(child)


@pytest.mark.skipif(lane() != "postgresql", reason="PostgreSQL's plan")
@pytest.mark.parametrize("params", [{}, {"start_at": "2024-05-20"}, {"course_id": "2"}])
def test_zero_activity_checks_the_course_after_the_login(
    conn: Connection, params: dict[str, str]
) -> None:
    """PostgreSQL estimates the same-course anti-join at one row (it takes every candidate
    to have an active enrollment in its course). The statement reads the user of that check
    from the login, so the anti-join can only sit above the login's join: below it, that one
    row made the serial plan scan the sections once per candidate (minutes on `large`).
    Checked in the serial plan a shard runs when others wait, and in the parallel one. On
    this small institution the planner puts the check last either way; the condition read
    from the login is what keeps it there on any data."""
    from reportcard.runs.query import range_select

    declaration = get_report(ZERO)
    assert declaration is not None
    pq = declaration.part("zero_activity").build(context(conn, ZERO, **params))
    sql = str(
        range_select(pq, 1, 10**9).compile(
            dialect=conn.dialect, compile_kwargs={"literal_binds": True}
        )
    )
    for workers in ("0", "2"):
        conn.exec_driver_sql(f"SET max_parallel_workers_per_gather = {workers}")
        plan = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {sql}").scalar_one()
        anti = [n for n in _plan_nodes(plan[0]["Plan"]) if n.get("Join Type") == "Anti"]
        assert len(anti) == 1, plan
        outer, inner = anti[0]["Plans"]
        read = {n.get("Relation Name") for n in _plan_nodes(outer)}
        assert "pseudonyms" in read, (workers, plan)
        # What forces that place: the check's user is the login's, whatever the data.
        conds = " ".join(
            str(n.get(key, ""))
            for n in [anti[0], *_plan_nodes(inner)]
            for key in ("Hash Cond", "Merge Cond", "Join Filter", "Index Cond", "Filter")
        )
        assert "login.user_id" in conds, (workers, conds)
    conn.exec_driver_sql("RESET max_parallel_workers_per_gather")


def test_zero_activity_settings_text(conn: Connection) -> None:
    assert settings_text(conn, ZERO) == "Term: All Terms;"
    assert settings_text(conn, ZERO, start_at="soon") == "Term: All Terms;"
    assert (
        settings_text(conn, ZERO, enrollment_term_id="3", start_at="2024-05-20", course_id="2")
        == "Term: Spring 2024; Start At: 2024-05-20T00:00:00-06:00; For Course: 2;"
    )


def test_declarations() -> None:
    expected = {
        ACCESS: ("Last User Access", ["enrollment_term_id", "course_id", "include_deleted"]),
        LAST: ("Last Enrollment Activity", ["enrollment_term_id", "course_id"]),
        ZERO: ("Zero Activity", ["enrollment_term_id", "start_at", "course_id"]),
    }
    for name, (title, params) in expected.items():
        report = get_report(name)
        assert report is not None
        assert report.title == title
        assert list(report.parameters) == params
        assert all(not p.required and p.description for p in report.parameters.values())
