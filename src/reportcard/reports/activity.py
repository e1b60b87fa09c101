"""Activity reports: ``last_user_access_csv``, ``last_enrollment_activity_csv``,
``zero_activity_csv`` (spec ``other-reports.md`` §4.3, §4.4, §4.13).

Activity is what Canvas keeps on the rows themselves: a login's ``last_request_at`` and
``current_login_ip``, an enrollment's ``last_activity_at``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select

from reportcard.db.tables import course_sections, courses, enrollments, pseudonyms, users
from reportcard.reports.aliases import named_alias
from reportcard.reports.basics import (
    COURSE,
    TERM,
    course_text,
    include_deleted_text,
    single_file,
    start_at,
    start_at_text,
    term_text,
)
from reportcard.reports.catalog import (
    ONE_RANGE_SCALE,
    SORT_KIB,
    TIME,
    Col,
    Parameter,
    PartQuery,
    RunContext,
)
from reportcard.reports.sis_scope import account_scope, term_scope, user_scope

STUDENT = "StudentEnrollment"


def _login_filters(ctx: RunContext, login: Any) -> list[ColumnElement[bool]]:
    """A root-account login, not deleted unless include_deleted."""
    out = [login.c.account_id == ctx.root_account_id]
    if not ctx.flag("include_deleted"):
        out.append(login.c.workflow_state != "deleted")
    return out


# ---------------------------------------------------------------- last_user_access_csv (§4.3)


def _enrolled(ctx: RunContext, user_col: ColumnElement[Any]) -> list[ColumnElement[bool]]:
    """With a term or a course: the user holds an enrollment of any role in a matching course
    (not a deleted one unless include_deleted). Nothing without either."""
    if ctx.term_ids is None and ctx.course_id is None:
        return []
    e = named_alias(enrollments, "any_enrollment")
    c = named_alias(courses, "any_course")
    cond: list[ColumnElement[bool]] = [e.c.user_id == user_col]
    if ctx.course_id is not None:
        cond.append(e.c.course_id == ctx.course_id)
    if ctx.term_ids is not None:
        cond += [c.c.id == e.c.course_id, *term_scope(ctx, c.c.enrollment_term_id)]
    if not ctx.flag("include_deleted"):
        cond.append(e.c.workflow_state != "deleted")
    return [exists().where(*cond).correlate_except(e, c)]


def _first_of_its_sis_id(ctx: RunContext, p: Any) -> ColumnElement[bool]:
    """``p`` is the login written for its (user, SIS user id): the matching login with the
    lowest id. Canvas walks the logins in id order (``find_each``) and skips a pair it has
    already written, so the first login of the pair gives the row (§4.3)."""
    q = named_alias(pseudonyms, "same_sis")
    return ~exists().where(
        q.c.user_id == p.c.user_id,
        q.c.id < p.c.id,
        q.c.sis_user_id.is_not_distinct_from(p.c.sis_user_id),
        *_login_filters(ctx, q),
    ).correlate_except(q)


def last_user_access(ctx: RunContext) -> PartQuery:
    p, u = pseudonyms, users
    root = p.c.account_id == ctx.root_account_id
    where = [
        *_login_filters(ctx, p),
        *user_scope(ctx, p.c.user_id),
        *_enrolled(ctx, p.c.user_id),
        _first_of_its_sis_id(ctx, p),
    ]
    cols = [
        Col("user id", p.c.user_id),
        Col("user sis id", p.c.sis_user_id),
        Col("user name", u.c.sortable_name, commas=True),
        Col("last access at", p.c.last_request_at, TIME),
        Col("last ip", p.c.current_login_ip),
    ]
    return PartQuery(
        cols,
        p.join(u, u.c.id == p.c.user_id),
        where,
        p.c.user_id,
        bounds_from=p,
        bounds_where=[root],
        then_by=[p.c.id],
    )


single_file(
    "last_user_access_csv",
    "Last User Access",
    "Each login of the account's users with the time of its last request and the IP address "
    "it came from; one row per user and SIS user id.",
    {
        "enrollment_term_id": Parameter(
            "Only users enrolled in a course of this term (a canvas id or sis_term_id:<SIS id>)",
            kind="term",
            label="Term",
        ),
        "course_id": Parameter(
            "Only users enrolled in this course (a canvas id or sis_course_id:<SIS id>)",
            kind="id",
            label="Course",
        ),
        "include_deleted": Parameter(
            "Include deleted logins, and count deleted enrollments for the term and course"
        ),
    },
    last_user_access,
    # Canvas adds the include-deleted fragment when the report is set up, before the term
    # and course ones (StudentReports#initialize, then report_extra_text).
    lambda ctx: [include_deleted_text(ctx), term_text(ctx), course_text(ctx)],
)


# ---------------------------------------------------------------- last_enrollment_activity (§4.4)


def last_enrollment_activity(ctx: RunContext) -> PartQuery:
    e = enrollments
    c = named_alias(courses, "enrollment_course")
    latest = (
        select(e.c.user_id.label("user_id"), func.max(e.c.last_activity_at).label("last_activity"))
        .select_from(e.join(c, c.c.id == e.c.course_id))
        .where(
            c.c.root_account_id == ctx.root_account_id,
            e.c.last_activity_at.is_not(None),
            *([e.c.course_id == ctx.course_id] if ctx.course_id is not None else []),
            *term_scope(ctx, c.c.enrollment_term_id),
            *account_scope(ctx, c.c.account_id),
        )
        .group_by(e.c.user_id)
        .subquery("latest")
    )
    u = users
    cols = [
        Col("user id", latest.c.user_id),
        Col("user name", u.c.sortable_name, commas=True),
        Col("last activity at", latest.c.last_activity, TIME),
    ]
    return PartQuery(
        cols,
        latest.join(u, u.c.id == latest.c.user_id),
        user_scope(ctx, latest.c.user_id),
        latest.c.user_id,
        # Planned over the users in the run's scope (every row's key is such a user's id):
        # counting the part's own rows would run its whole GROUP BY once more before the shards
        # start. The count is an estimate (users without activity too), so progress moves
        # unevenly; a sub-account run is planned over its own users, not the whole table.
        bounds_from=u,
        bounds_where=user_scope(ctx, u.c.id),
        bounds_key=u.c.id,
    )


single_file(
    "last_enrollment_activity_csv",
    "Last Enrollment Activity",
    "Each user with course activity in the account: the latest activity over their "
    "enrollments in the matching courses.",
    {
        "enrollment_term_id": Parameter(
            "Only activity in courses of this term (a canvas id or sis_term_id:<SIS id>)",
            kind="term",
            label="Term",
        ),
        "course_id": Parameter(
            "Only activity in this course (a canvas id or sis_course_id:<SIS id>)",
            kind="id",
            label="Course",
        ),
    },
    last_enrollment_activity,
    lambda ctx: [term_text(ctx), course_text(ctx)],
)


# ---------------------------------------------------------------- zero_activity_csv (§4.13)


def _no_own_activity(ctx: RunContext, e: Any) -> ColumnElement[bool]:
    """The enrollment itself shows no activity (since ``start_at``)."""
    since = start_at(ctx)
    own = e.c.last_activity_at
    return own.is_(None) if since is None else or_(own.is_(None), own < since)


def _no_course_activity(ctx: RunContext, e: Any, user_id: Any) -> ColumnElement[bool]:
    """No activity (since ``start_at``) in any other enrollment of the user in the same
    course either: a student active in one section is active in the course. ``user_id``: the
    enrollment's user, read from the column given (see :func:`zero_activity`)."""
    since = start_at(ctx)
    other = named_alias(enrollments, "same_course")
    activity = other.c.last_activity_at
    return ~exists().where(
        other.c.user_id == user_id,
        other.c.course_id == e.c.course_id,
        activity.is_not(None) if since is None else activity > since,
    ).correlate_except(other)


def zero_activity(ctx: RunContext) -> PartQuery:
    e = enrollments
    p, u = named_alias(pseudonyms, "login"), users
    s = named_alias(course_sections, "section")
    c = named_alias(courses, "course")
    # The enrollment's own conditions. On PostgreSQL they are the rows the planner counts and
    # cuts into shards: counting every enrollment of the account instead (sixteen for each row
    # written on large) made eight shards where one does, each reading its key range and
    # probing for its few candidates. Without a start date the candidates are the rows of
    # ix_enrollments_no_activity, which both databases count from the index alone. With one,
    # SQLite counts the account's enrollments from an index, where the candidates' count
    # reads the table, and its shards cost little each (docs/decisions/performance.md, "zero
    # activity plans over its candidates", "zero activity's candidates in a partial index").
    # PostgreSQL: the same-course check reads the user from the login (equal to the
    # enrollment's by the join), so the planner can place its anti-join only above the
    # login's join. It estimates that anti-join at one row (every candidate assumed to have
    # an active enrollment in its course); placed first, that estimate made every later
    # join a probe per row, and a serial plan scan the sections once per candidate
    # (docs/decisions/performance.md, "zero activity's same-course check after the login").
    pg = ctx.dialect == "postgresql"
    root = e.c.root_account_id == ctx.root_account_id
    candidates = [
        root,
        e.c.type == STUDENT,
        e.c.workflow_state == "active",
        _no_own_activity(ctx, e),
    ]
    if ctx.course_id is not None:
        candidates.append(e.c.course_id == ctx.course_id)
    where = [
        *candidates,
        c.c.workflow_state == "available",
        s.c.workflow_state == "active",
        # Canvas's query asks for ``p.workflow_state = 'active'``: a suspended login gives no
        # row here (unlike the reports using the ``active`` scope, which is "not deleted").
        p.c.workflow_state == "active",
        _no_course_activity(ctx, e, p.c.user_id if pg else e.c.user_id),
        *term_scope(ctx, c.c.enrollment_term_id),
    ]
    if ctx.course_id is None:
        where += account_scope(ctx, c.c.account_id)
    frm = (
        e.join(c, c.c.id == e.c.course_id)
        .join(s, s.c.id == e.c.course_section_id)
        .join(u, u.c.id == e.c.user_id)
        .join(p, and_(p.c.user_id == e.c.user_id, p.c.account_id == e.c.root_account_id))
    )
    cols = [
        Col("user id", e.c.user_id),
        Col("user sis id", p.c.sis_user_id),
        Col("name", u.c.sortable_name, comma_prone=True),
        Col("section id", s.c.id),
        Col("section sis id", s.c.sis_source_id),
        Col("section name", s.c.name),
        Col("course id", c.c.id),
        Col("course sis id", c.c.sis_source_id),
        Col("course name", c.c.name),
    ]
    if pg:
        bounds_where = candidates
    elif start_at(ctx) is None:
        # The root's term as an expression (no index reads it): SQLite then counts the
        # candidates from ix_enrollments_no_activity alone on a database without statistics
        # too (a SIS import's), where it would walk ix_enrollments_root and read every row.
        bounds_where = [e.c.root_account_id + 0 == ctx.root_account_id, *candidates[1:]]
    else:
        bounds_where = [root]
    return PartQuery(
        cols,
        frm,
        where,
        e.c.id,
        bounds_from=e,
        bounds_where=bounds_where,
        then_by=[p.c.id],
        shard_scale=ONE_RANGE_SCALE if pg else 1,
        # SQLite sorts each shard's lines (by enrollment, then login): in the CLI's 2 MB.
        sort_kib=None if pg else SORT_KIB,
    )


single_file(
    "zero_activity_csv",
    "Zero Activity",
    "Active student enrollments (one row per login) with no activity in their course, or "
    "none since the start date.",
    {
        "enrollment_term_id": TERM,
        "start_at": Parameter(
            "The first date in the date range, the second date is the time the report is run",
            kind="date",
            label="Start date",
        ),
        "course_id": COURSE,
    },
    zero_activity,
    lambda ctx: [term_text(ctx), start_at_text(ctx), course_text(ctx)],
)
