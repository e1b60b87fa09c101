"""``students_with_no_submissions_csv`` (spec other-reports.md §4.7).

One row per student enrollment and login with no submission in the course inside a date window
of at most two weeks. Keyed (sharded and ordered) on the enrollment id, then the login id.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, and_, exists, literal_column, not_

from reportcard.db.learning_tables import assignments, submissions
from reportcard.db.tables import course_sections, courses, enrollments, pseudonyms, users
from reportcard.reports.basics import check_references
from reportcard.reports.catalog import (
    ONE_RANGE_SCALE,
    Col,
    Parameter,
    Part,
    PartQuery,
    Report,
    RunContext,
    register,
)
from reportcard.reports.formatting import iso_in_zone, zone
from reportcard.reports.learning_common import resolve_account_facts, term_text
from reportcard.reports.params import (
    param,
    parse_time,
    value_to_boolean,
    value_to_list,
)
from reportcard.reports.sis_scope import account_scope, given, term_scope
from reportcard.timebounds import EARLIEST, LATEST, clamp

WINDOW_DAYS = 14
WINDOW = timedelta(days=WINDOW_DAYS)


def shift(value: datetime, days: int, tz_name: str) -> datetime:
    """Naive UTC ``value`` moved by calendar days in the root account's zone (DST-aware).

    Held inside the bounds every zone can show: two weeks before year 1 is year 1.
    """
    try:
        local = value.replace(tzinfo=UTC).astimezone(zone(tz_name))
        moved = (local.replace(tzinfo=None) + timedelta(days=days)).replace(tzinfo=zone(tz_name))
        return clamp(moved.astimezone(UTC).replace(tzinfo=None))
    except OverflowError:
        return EARLIEST if days < 0 else LATEST


def window(ctx: RunContext) -> tuple[datetime, datetime]:
    """The submission window after the two-week rule (no error, silently adjusted).

    A window longer than two weeks keeps its end; a missing bound is two weeks (calendar
    days in the root account's zone) from the other one, or from now.
    """
    tz = ctx.time_zone
    start = parse_time(param(ctx.params, "start_at"), tz)
    end = parse_time(param(ctx.params, "end_at"), tz)
    if start is not None and end is not None:
        if end - start > WINDOW:
            start = shift(end, -WINDOW_DAYS, tz)
    elif start is not None:
        end = shift(start, WINDOW_DAYS, tz)
    elif end is not None:
        start = shift(end, -WINDOW_DAYS, tz)
    else:
        start, end = shift(ctx.now, -WINDOW_DAYS, tz), ctx.now
    return start, end


def states(ctx: RunContext) -> list[str] | None:
    """The enrollment states asked for; None means all (absent, or a list holding ``all``)."""
    wanted = value_to_list(given(ctx, "enrollment_state"))
    if wanted is None or "all" in wanted:
        return None
    return wanted


def no_submissions_file(ctx: RunContext) -> PartQuery:
    e, c, s, u, p = enrollments, courses, course_sections, users, pseudonyms
    start, end = window(ctx)
    sub, a = submissions, assignments
    # ``EXISTS (SELECT 1 ...)``, not ``SELECT *``: SQLite then reads the submission and the
    # assignment from their indexes alone (ix_submissions_user_submitted covers the probe).
    submitted = (
        exists(literal_column("1"))
        .where(
            sub.c.user_id == e.c.user_id,
            sub.c.workflow_state != "deleted",
            sub.c.submitted_at > start,
            sub.c.submitted_at < end,
            a.c.id == sub.c.assignment_id,
            a.c.course_id == e.c.course_id,
        )
        .correlate_except(sub, a)
    )
    frm = (
        e.join(c, c.c.id == e.c.course_id)
        .join(s, s.c.id == e.c.course_section_id)
        .join(u, u.c.id == e.c.user_id)
        .join(
            p,
            and_(
                p.c.user_id == e.c.user_id,
                p.c.account_id == c.c.root_account_id,
                p.c.workflow_state != "deleted",
            ),
        )
    )
    enrollment_rows: list[ColumnElement[bool]] = [
        e.c.root_account_id == ctx.root_account_id,
        e.c.type == "StudentEnrollment",
    ]
    if ctx.course_id is not None:
        enrollment_rows.append(e.c.course_id == ctx.course_id)
        scope: list[ColumnElement[bool]] = []
    else:
        scope = account_scope(ctx, c.c.account_id)
    wanted = states(ctx)
    if wanted is not None:
        enrollment_rows.append(e.c.workflow_state.in_(wanted) if wanted else e.c.id.is_(None))
    where = [
        *enrollment_rows,
        c.c.root_account_id == ctx.root_account_id,
        c.c.workflow_state != "deleted",
        *term_scope(ctx, c.c.enrollment_term_id),
        *scope,
        not_(submitted),
    ]
    columns = [
        Col("user id", u.c.id),
        Col("user sis id", p.c.sis_user_id),
        Col("user name", u.c.sortable_name, comma_prone=True),
        Col("section id", s.c.id),
        Col("section sis id", s.c.sis_source_id),
        Col("section name", s.c.name),
        Col("course id", c.c.id),
        Col("course sis id", c.c.sis_source_id),
        Col("course name", c.c.name),
    ]
    if value_to_boolean(ctx.params.get("include_enrollment_state")):
        columns.append(Col("enrollment state", e.c.workflow_state))
    return PartQuery(
        columns,
        frm,
        where,
        e.c.id,
        bounds_from=e,
        bounds_where=enrollment_rows,
        then_by=(p.c.id,),
        shard_scale=ONE_RANGE_SCALE if ctx.dialect == "postgresql" else 1,
    )


def select_parts(ctx: RunContext) -> list[str]:
    check_references(ctx)
    return ["students"]


def extra_text(ctx: RunContext) -> str:
    start, end = window(ctx)
    # Canvas's report_extra_text order: term, start, end, then the course.
    parts = [term_text(ctx)]
    parts.append(f"Start At: {iso_in_zone(start, ctx.time_zone)};")
    parts.append(f"End At: {iso_in_zone(end, ctx.time_zone)};")
    if ctx.course_id is not None:
        parts.append(f"For Course: {ctx.course_id};")
    if value_to_boolean(ctx.params.get("include_enrollment_state")):
        parts.append("Include Enrollment State: true;")
    wanted = states(ctx)
    parts.append(f"Enrollment States: {'all' if wanted is None else ' '.join(wanted)};")
    return " ".join(parts)


STATE_OPTIONS = "active, invited, creation_pending, deleted, rejected, completed, inactive"
PARAMETERS: dict[str, Parameter] = {
    "enrollment_term_id": Parameter(
        "The canvas id of the term of courses to report on", kind="term", label="Term"
    ),
    "course_id": Parameter("The course to report on", kind="id", label="Course"),
    "start_at": Parameter(
        "The start of the submission window; at most two weeks before end_at",
        required=True,
        kind="date",
        label="Start date",
    ),
    "end_at": Parameter(
        "The end of the submission window; at most two weeks after start_at",
        required=True,
        kind="date",
        label="End date",
    ),
    "include_enrollment_state": Parameter("Add an enrollment state column; defaults to false"),
    "enrollment_state": Parameter(
        f"The enrollment states to include, defaults to all; options: {STATE_OPTIONS}",
        kind="list",
        label="Enrollment states",
        choices=tuple((s, s.replace("_", " ")) for s in STATE_OPTIONS.split(", ")),
    ),
}

STUDENTS_WITH_NO_SUBMISSIONS = register(
    Report(
        name="students_with_no_submissions_csv",
        title="Students with no submissions",
        description=(
            "Students (one row per enrollment and login) who submitted nothing in their course "
            "between two dates at most two weeks apart."
        ),
        parameters=PARAMETERS,
        parts=[Part("students", no_submissions_file)],
        select_parts=select_parts,
        extra_text=extra_text,
        resolve=resolve_account_facts,
    )
)
