"""Course reports: ``recently_deleted_courses_csv``, ``unpublished_courses_csv``,
``public_courses_csv``, ``course_storage_csv``, ``unused_courses_csv`` (spec
``other-reports.md`` §4.8-§4.12).

Every one lists root-account courses in the term and sub-account scope, keyed (sharded and
ordered) on the course id.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, FromClause, Table, case, exists, func, null, select, true

from reportcard.db.activity_tables import (
    context_modules,
    course_files,
    discussion_topics,
    wiki_pages,
)
from reportcard.db.learning_tables import assignments, quizzes
from reportcard.db.tables import accounts, courses
from reportcard.reports.aliases import named_alias
from reportcard.reports.basics import TERM, megabytes, single_file, term_text
from reportcard.reports.catalog import TIME, Col, PartQuery, RunContext
from reportcard.reports.sis_scope import account_scope, term_scope, when

RECENTLY = timedelta(days=30)  # how far back recently_deleted_courses_csv looks
MIN_FILE_BYTES = 512  # a file never counts for less than this towards the quota

# §3: the status unused_courses_csv writes for a course state.
STATUS = {
    "created": "unpublished",
    "claimed": "unpublished",
    "completed": "concluded",
    "available": "active",
}


def _courses(
    ctx: RunContext,
    columns: Sequence[Col],
    where: Sequence[ColumnElement[bool]],
    frm: FromClause = courses,
) -> PartQuery:
    """Root-account courses matching ``where`` in the term and sub-account scope."""
    c = courses
    root = c.c.root_account_id == ctx.root_account_id
    return PartQuery(
        columns,
        frm,
        [
            root,
            *where,
            *term_scope(ctx, c.c.enrollment_term_id),
            *account_scope(ctx, c.c.account_id),
        ],
        c.c.id,
        bounds_from=c,
        bounds_where=[root],
    )


def _course_list(ctx: RunContext, where: Sequence[ColumnElement[bool]]) -> PartQuery:
    """The shared layout of §4.8-§4.10: dates only when the course restricts to them."""
    c = courses.c
    restrict = c.restrict_enrollments_to_course_dates
    columns = [
        Col("id", c.id),
        Col("sis id", c.sis_source_id),
        Col("short name", c.course_code),
        Col("name", c.name),
        Col("start date", when(restrict, c.start_at), TIME),
        Col("end date", when(restrict, c.conclude_at), TIME),
    ]
    return _courses(ctx, columns, where)


def unpublished_courses(ctx: RunContext) -> PartQuery:
    return _course_list(ctx, [courses.c.workflow_state.in_(["created", "claimed"])])


def public_courses(ctx: RunContext) -> PartQuery:
    c = courses.c
    return _course_list(ctx, [c.workflow_state != "deleted", c.is_public])


def recently_deleted_courses(ctx: RunContext) -> PartQuery:
    # updated_at stands in for the deletion time.
    c = courses.c
    return _course_list(ctx, [c.workflow_state == "deleted", c.updated_at > ctx.now - RECENTLY])


def _settings(ctx: RunContext) -> list[str]:
    return [term_text(ctx)]


_TERM_ONLY = {"enrollment_term_id": TERM}

single_file(
    "recently_deleted_courses_csv",
    "Recently Deleted Courses",
    "Courses deleted in the last 30 days.",
    _TERM_ONLY,
    recently_deleted_courses,
    _settings,
)
single_file(
    "unpublished_courses_csv",
    "Unpublished Courses",
    "Courses that have not been published yet.",
    _TERM_ONLY,
    unpublished_courses,
    _settings,
)
single_file(
    "public_courses_csv",
    "Public Courses",
    "Courses that are visible to the public.",
    _TERM_ONLY,
    public_courses,
    _settings,
)


# ---------------------------------------------------------------- course_storage_csv (§4.11)


def _counted(f: FromClause) -> ColumnElement[Any]:
    """A file's bytes towards the quota: at least 512, a NULL size 0."""
    size = f.c.size
    return case((size.is_(None), 0), (size < MIN_FILE_BYTES, MIN_FILE_BYTES), else_=size)


def _stored_bytes(course_id: ColumnElement[Any], originals_only: bool) -> ColumnElement[Any]:
    """Bytes of the course's available files, each counted as at least 512 (NULL size: 0).

    Only ``available`` files count, as in Canvas's quota (``attachments.active`` is
    ``file_state = 'available'``): hidden files take no quota and are not in the sum either.
    """
    f = named_alias(course_files, "stored_file" if originals_only else "any_file")
    cond = [f.c.course_id == course_id, f.c.file_state == "available"]
    if originals_only:
        cond.append(f.c.root_attachment_id.is_(None))
    total = select(func.coalesce(func.sum(_counted(f)), 0)).where(*cond).correlate_except(f)
    return total.scalar_subquery()


def _file_sums(course_id: ColumnElement[Any]) -> Any:
    """Both of ``_stored_bytes``'s sums from one read of the course's files (PostgreSQL's
    LATERAL): ``stored`` (originals only) and ``every`` (NULL when the course has none)."""
    f = named_alias(course_files, "course_file")
    counted = _counted(f)
    return (
        select(
            func.sum(counted).filter(f.c.root_attachment_id.is_(None)).label("stored"),
            func.sum(counted).label("every"),
        )
        .where(f.c.course_id == course_id, f.c.file_state == "available")
        .lateral("files")
    )


def course_storage(ctx: RunContext) -> PartQuery:
    c = courses
    acct = named_alias(accounts, "course_account")
    frm = c.join(acct, acct.c.id == c.c.account_id)
    if ctx.dialect == "postgresql":
        # One index scan per course for both sums, where two scalar subqueries read the
        # course's files twice: the psql baseline 0.28-0.31 s against 0.54-0.80 s on `large`
        # (docs/decisions/performance.md, "Issue 19: course storage on PostgreSQL reads the
        # files once").
        sums = _file_sums(c.c.id)
        frm = frm.outerjoin(sums, true())
        stored: ColumnElement[Any] = func.coalesce(sums.c.stored, 0)
        every: ColumnElement[Any] = func.coalesce(sums.c.every, 0)
    else:
        stored = _stored_bytes(c.c.id, originals_only=True)
        every = _stored_bytes(c.c.id, originals_only=False)
    columns = [
        Col("id", c.c.id),
        Col("sis id", c.c.sis_source_id),
        Col("short name", c.c.course_code),
        Col("name", c.c.name),
        Col("account id", acct.c.id),
        Col("account sis id", acct.c.sis_source_id),
        Col("account name", acct.c.name),
        Col("storage used in MB", stored, megabytes),
        Col("sum of all files in MB", every, megabytes),
    ]
    return _courses(ctx, columns, [c.c.workflow_state != "deleted"], frm)


single_file(
    "course_storage_csv",
    "Course Storage",
    "The storage each course uses: its own files (the quota) and all its files including "
    "copies, in MB.",
    _TERM_ONLY,
    course_storage,
    _settings,
)


# ---------------------------------------------------------------- unused_courses_csv (§4.12)


# The course content that makes a course "used", with the column holding its state: any of
# these rows in a state other than deleted (discussion topics include announcements).
CONTENT: tuple[tuple[Table, str], ...] = (
    (assignments, "workflow_state"),
    (course_files, "file_state"),
    (discussion_topics, "workflow_state"),
    (context_modules, "workflow_state"),
    (quizzes, "workflow_state"),
    (wiki_pages, "workflow_state"),
)


def _has_no_content(course_id: ColumnElement[Any]) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    for table, state_col in CONTENT:
        t = named_alias(table, f"content_{table.name}")
        out.append(
            ~exists()
            .where(t.c.course_id == course_id, t.c[state_col] != "deleted")
            .correlate_except(t)
        )
    return out


def unused_courses(ctx: RunContext) -> PartQuery:
    c = courses.c
    columns = [
        Col("course id", c.id),
        Col("course sis id", c.sis_source_id),
        Col("short name", c.course_code),
        Col("long name", c.name),
        # Canvas's CASE has no ELSE: a state outside §3's map is blank.
        Col("status", case(STATUS, value=c.workflow_state, else_=null())),
        Col("created at", c.created_at, TIME),
    ]
    return _courses(ctx, columns, [c.workflow_state != "deleted", *_has_no_content(c.id)])


single_file(
    "unused_courses_csv",
    "Unused Courses",
    "Courses with no content: no assignments, files, discussions or announcements, modules, "
    "quizzes or pages.",
    _TERM_ONLY,
    unused_courses,
    _settings,
)
