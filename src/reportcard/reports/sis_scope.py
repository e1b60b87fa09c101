"""Scope and filter helpers shared by the files of ``sis_export_csv`` and ``provisioning_csv``.

Every helper returns SQL (conditions or scalar subqueries); nothing here runs a query. The
rules are those of the spec's §1.7 (scopes) and §1.8 (which login gives a row's SIS user id).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    and_,
    case,
    exists,
    false,
    func,
    literal,
    null,
    or_,
    select,
    true,
    union_all,
)

from reportcard.db.tables import (
    account_ancestors,
    accounts,
    courses,
    enrollments,
    pseudonyms,
    user_account_associations,
    users,
)
from reportcard.reports.aliases import named_alias
from reportcard.reports.catalog import Col, RunContext
from reportcard.reports.params import value_to_list

# The data sets in the fixed output order of §1.4.
STANDARD_FILES = (
    "users",
    "accounts",
    "terms",
    "courses",
    "sections",
    "enrollments",
    "groups",
    "group_membership",
    "group_categories",
    "xlist",
    "user_observers",
    "admins",
)
TAG_FILES = (
    "institutional_tag_categories",
    "institutional_tags",
    "institutional_tag_associations",
)
FILE_KEYS = STANDARD_FILES + TAG_FILES

# Enrollment.valid_types, in Canvas's order (used for the filter and its sentence).
ENROLLMENT_TYPES = (
    "TeacherEnrollment",
    "TaEnrollment",
    "DesignerEnrollment",
    "StudentEnrollment",
    "ObserverEnrollment",
)
ENROLLMENT_STATES = (
    "invited",
    "creation_pending",
    "active",
    "completed",
    "inactive",
    "deleted",
    "rejected",
)
STUDENT_VIEW = "StudentViewEnrollment"

# Column modes: written in both formats, only in SIS export, only in provisioning.
BOTH, SIS, PROV = "both", "sis", "prov"

ColSpec = tuple[str, ColumnElement[Any], Any, str]


@dataclass(frozen=True)
class Mode:
    """The run's mode and the two flags nearly every file reads."""

    sis: bool
    include_deleted: bool
    created_by_sis: bool


def mode_of(ctx: RunContext, sis: bool) -> Mode:
    return Mode(
        sis=sis,
        include_deleted=ctx.flag("include_deleted"),
        created_by_sis=ctx.flag("created_by_sis"),
    )


def columns(mode: Mode, specs: Sequence[ColSpec]) -> list[Col]:
    """The columns of one format, each labelled with its header (headers are unique)."""
    wanted = SIS if mode.sis else PROV
    return [
        Col(header, expr.label(header), fmt)
        for header, expr, fmt, where in specs
        if where in (BOTH, wanted)
    ]


# ---------------------------------------------------------------- parameters


def given(ctx: RunContext, name: str) -> Any:
    """A parameter's value as Rails' ``value_for_param`` sees it: blank and "null" are absent."""
    value = ctx.params.get(name)
    if value is None or value == "null":
        return None
    if isinstance(value, str) and not value.strip():
        return None
    if isinstance(value, list | dict) and not value:
        return None
    return value


def _intersect(valid: Sequence[str], value: Any) -> list[str]:
    wanted = set(value_to_list(value) or [])
    return [v for v in valid if v in wanted]


def enrollment_filter(ctx: RunContext) -> list[str] | None:
    """The valid enrollment types asked for, or None when ``enrollment_filter`` is absent."""
    value = given(ctx, "enrollment_filter")
    return None if value is None else _intersect(ENROLLMENT_TYPES, value)


def enrollment_states(ctx: RunContext) -> list[str] | None:
    """The valid workflow states asked for, or None when ``enrollment_states`` is absent."""
    value = given(ctx, "enrollment_states")
    return None if value is None else _intersect(ENROLLMENT_STATES, value)


def in_list(col: ColumnElement[Any], values: Sequence[str]) -> ColumnElement[bool]:
    """``col IN values``; an empty list matches nothing."""
    return col.in_(list(values)) if values else false()


# ---------------------------------------------------------------- scopes


def subtree(account_id: int) -> Select[Any]:
    """Ids of the account and all its descendants (the closure table, indexed on ancestor)."""
    aa = account_ancestors
    return select(aa.c.account_id).where(aa.c.ancestor_id == account_id)


def account_scope(ctx: RunContext, account_col: ColumnElement[Any]) -> list[ColumnElement[bool]]:
    """Course sub-account scope: the account is the report account or below (none at root)."""
    if ctx.is_root:
        return []
    return [account_col.in_(subtree(ctx.account_id))]


def user_scope(ctx: RunContext, user_col: ColumnElement[Any]) -> list[ColumnElement[bool]]:
    """User sub-account scope: the user is associated with the report account."""
    if ctx.is_root:
        return []
    uaa = user_account_associations
    return [
        exists()
        .where(uaa.c.user_id == user_col, uaa.c.account_id == ctx.account_id)
        .correlate_except(uaa)
    ]


def term_scope(ctx: RunContext, term_col: ColumnElement[Any]) -> list[ColumnElement[bool]]:
    """The course term filter; only courses, sections, enrollments and xlist use it."""
    if ctx.term_ids is None:
        return []
    return [term_col.in_(ctx.term_ids)]  # an empty list (no term matched) selects nothing


def no_test_student(user_col: ColumnElement[Any]) -> list[ColumnElement[bool]]:
    """Drop the Student View fake student: flagged users and users with a StudentView role.

    One uncorrelated ``NOT IN`` over two small partial indexes (``ix_enrollments_student_view``,
    ``ix_users_test_student``): the list is read once per statement (SQLite builds it into
    a temporary index, PostgreSQL hashes it), where the correlated ``NOT EXISTS`` it replaces
    probed the user's enrollments and the users table for every row (issue 19,
    docs/decisions/performance.md). ``user_col`` is never NULL, so NOT IN keeps its rows.
    """
    sv = named_alias(enrollments, "sv")
    tu = named_alias(users, "tu")
    test_users = union_all(
        select(sv.c.user_id).where(sv.c.type == STUDENT_VIEW),
        select(tu.c.id).where(tu.c.is_test_student),
    )
    return [user_col.not_in(test_users)]


def root_sis(ctx: RunContext, acct: FromClause) -> ColumnElement[Any]:
    """An account's SIS id, never written for the root account (blank means the root)."""
    return case((acct.c.id == ctx.root_account_id, null()), else_=acct.c.sis_source_id)


def deleted_or(
    mode: Mode, state: ColumnElement[Any], keep: ColumnElement[bool]
) -> list[ColumnElement[bool]]:
    """The common include_deleted rule: not deleted, or (include_deleted) ``keep`` holds."""
    not_deleted = state != "deleted"
    return [or_(not_deleted, keep)] if mode.include_deleted else [not_deleted]


# ---------------------------------------------------------------- small SQL helpers


def present(col: ColumnElement[Any]) -> ColumnElement[bool]:
    return col.is_not(None)


def mapped(value: ColumnElement[Any], mapping: dict[str, str]) -> ColumnElement[Any]:
    """A value mapped in SQL; values not in ``mapping`` are written as they are."""
    return case(mapping, value=value, else_=value)


def when(flag: ColumnElement[Any], value: ColumnElement[Any]) -> ColumnElement[Any]:
    """``value`` when the boolean column ``flag`` is true, else NULL (restricted dates)."""
    return case((flag, value), else_=null())


def sis_filters(
    mode: Mode, sis_cond: ColumnElement[bool], batch: ColumnElement[Any]
) -> list[ColumnElement[bool]]:
    """The "SIS mode adds" and "created_by_sis adds" columns of the spec's §3 table."""
    out: list[ColumnElement[bool]] = []
    if mode.sis:
        out.append(sis_cond)
    if mode.created_by_sis:
        out.append(present(batch))
    return out


def context_scope(
    ctx: RunContext,
    context_type: ColumnElement[Any],
    context_id: ColumnElement[Any],
    course: FromClause,
) -> list[ColumnElement[bool]]:
    """Groups and categories: an account context in the subtree, or a course whose account is."""
    if ctx.is_root:
        return []
    return [
        or_(
            and_(context_type == "Account", context_id.in_(subtree(ctx.account_id))),
            and_(context_type == "Course", course.c.account_id.in_(subtree(ctx.account_id))),
        )
    ]


def context_joins(
    base: FromClause, context_type: ColumnElement[Any], context_id: ColumnElement[Any]
) -> tuple[FromClause, FromClause, FromClause]:
    """``base`` left-joined to its account context and its course context."""
    ctx_account = named_alias(accounts, "ctx_account")
    ctx_course = named_alias(courses, "ctx_course")
    joined = base.outerjoin(
        ctx_account, and_(context_type == "Account", ctx_account.c.id == context_id)
    ).outerjoin(ctx_course, and_(context_type == "Course", ctx_course.c.id == context_id))
    return joined, ctx_account, ctx_course


# ---------------------------------------------------------------- SIS logins (§1.8)


def _candidates(
    ctx: RunContext, mode: Mode, user_col: ColumnElement[Any], name: str
) -> tuple[FromClause, list[ColumnElement[bool]]]:
    cand = named_alias(pseudonyms, name)
    cond: list[ColumnElement[bool]] = [
        cand.c.user_id == user_col,
        cand.c.account_id == ctx.root_account_id,
    ]
    if not mode.include_deleted:
        cond.append(cand.c.workflow_state != "deleted")
    return cand, cond


def _login_order(
    cand: FromClause, preferred: ColumnElement[Any] | None = None
) -> list[ColumnElement[Any]]:
    """§1.8's order of a user's candidate logins (``preferred`` first when given)."""
    first: list[ColumnElement[Any]] = []
    if preferred is not None:
        first.append(case((cand.c.id == preferred, literal(0)), else_=literal(1)))
    return [
        *first,
        cand.c.workflow_state,
        case((cand.c.sis_user_id.is_(None), literal(1)), else_=literal(0)),
        cand.c.unique_id,
        cand.c.position,
        cand.c.id,
    ]


def _first_login(
    ctx: RunContext, mode: Mode, user_col: ColumnElement[Any], name: str, column: str
) -> ColumnElement[Any]:
    """``column`` of the user's first candidate login in §1.8's order (an index probe)."""
    cand, cond = _candidates(ctx, mode, user_col, name)
    return (
        select(cand.c[column])
        .where(and_(*cond))
        .order_by(*_login_order(cand))
        .limit(1)
        .correlate_except(cand)
        .scalar_subquery()
    )


def chosen_login(
    ctx: RunContext,
    mode: Mode,
    user_col: ColumnElement[Any],
    *,
    preferred: ColumnElement[Any] | None = None,
    name: str = "login",
) -> tuple[FromClause, ColumnElement[bool]]:
    """The login §1.8 chooses for ``user_col``, as a table to INNER JOIN on the condition.

    The candidates are the user's logins on the root account (deleted ones only with
    include_deleted). ``preferred`` (an enrollment's ``sis_pseudonym_id``) wins when it is a
    candidate; otherwise the first candidate in the order workflow_state, has a SIS id first,
    unique_id, position. A row whose user has no candidate joins nothing and is skipped, as
    Canvas skips it.

    PostgreSQL gets a LATERAL subquery: one index probe per row that yields the whole login.
    SQLite has no LATERAL; there the chosen id is computed by correlated subqueries and joined
    by primary key, which its planner runs as one probe per row too. (PostgreSQL planned that
    form as a hash join on the computed id: a scan of every login per shard, and each
    subquery evaluated twice per row; the LATERAL form took 9 s instead of 14 s on the large
    enrollments file, docs/decisions/performance.md.)
    """
    if ctx.dialect == "postgresql":
        cand, cond = _candidates(ctx, mode, user_col, name + "_first")
        lateral = (
            select(cand)
            .where(and_(*cond))
            .order_by(*_login_order(cand, preferred))
            .limit(1)
            .lateral(name)
        )
        return lateral, true()
    login = named_alias(pseudonyms, name)
    first = _first_login(ctx, mode, user_col, name + "_first", "id")
    if preferred is None:
        return login, login.c.id == first
    pref, pref_cond = _candidates(ctx, mode, user_col, name + "_pref")
    pref_cond.append(pref.c.id == preferred)
    probe = select(pref.c.id).where(and_(*pref_cond)).correlate_except(pref).scalar_subquery()
    return login, login.c.id == func.coalesce(probe, first)


def sis_user_id(
    ctx: RunContext, mode: Mode, user_col: ColumnElement[Any], *, name: str = "cand"
) -> ColumnElement[Any]:
    """The ``sis_user_id`` of the login chosen for ``user_col`` (NULL when there is none)."""
    return _first_login(ctx, mode, user_col, name, "sis_user_id")
