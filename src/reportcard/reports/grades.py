"""``grade_export_csv`` and ``mgp_grade_export_csv`` (spec other-reports.md §4.1, §4.2, §3).

One row per student enrollment with its course scores (and, for the multiple grading periods
export, its scores in each grading period of the term's set), the grades those scores map to in
the course's grading scheme, and the student's login on the root account.

Both are keyed (sharded and ordered) on the enrollment's course id, then the enrollment id.
The Multiple Grading Periods export is always a zip with one file per term; its parts are named
at run time after the terms (``Fall.csv``), resolved with the run's context.
"""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass, replace
from datetime import timedelta
from functools import cache, partial
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    FromClause,
    String,
    and_,
    case,
    false,
    func,
    literal,
    null,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import ARRAY, DOUBLE_PRECISION, aggregate_order_by, distinct_on

from reportcard.db.learning_tables import (
    course_grading_schemes,
    grading_period_group_terms,
    grading_period_groups,
    grading_periods,
    grading_standard_entries,
    scores,
)
from reportcard.db.tables import (
    course_sections,
    courses,
    enrollment_terms,
    enrollments,
    pseudonyms,
    users,
)
from reportcard.reports.aliases import named_alias
from reportcard.reports.basics import check_references
from reportcard.reports.catalog import (
    CLI_CACHE_KIB,
    ONE_RANGE_SCALE,
    Col,
    Parameter,
    Part,
    PartQuery,
    Report,
    RunContext,
    register,
)
from reportcard.reports.learning_common import (
    checked,
    common_extra_text,
    has_root_login,
    login_value,
    resolve_account_facts,
    ruby_float,
)
from reportcard.reports.sis_scope import account_scope, given, term_scope
from reportcard.timebounds import EARLIEST, LATEST

TERM_DESCRIPTION = "The canvas id of the term to get grades from"
DELETED_DESCRIPTION = "Include deleted objects"
LIMITED_TEXT = "deleted objects limited by days specified;"
NO_PERIODS = "no grading periods configured for this term"

# §3: enrollment states written by the grade reports (others are blank).
STATE_LABELS = {
    "active": "active",
    "completed": "concluded",
    "inactive": "inactive",
    "deleted": "deleted",
}
# Canvas's default grading scheme, used when a course enables a scheme without choosing one.
DEFAULT_SCHEME = (
    ("A", 0.94),
    ("A-", 0.90),
    ("B+", 0.87),
    ("B", 0.84),
    ("B-", 0.80),
    ("C+", 0.77),
    ("C", 0.74),
    ("C-", 0.70),
    ("D+", 0.67),
    ("D", 0.64),
    ("D-", 0.61),
    ("F", 0.0),
)
SCORE_KINDS = ("current", "final", "unposted_current", "unposted_final", "override")


# ---------------------------------------------------------------- grades from scores (§3)


# At most this many entries (over all standards) are written into the statement as CASE
# arms; more and every grade is looked up per row instead (docs/decisions/performance.md).
MAX_INLINE_ENTRIES = 240


def resolve_standards(conn: Connection, ctx: RunContext) -> None:
    """The entries of the grading standards the account's course schemes use, into
    ``ctx.facts["standards"]``: standard id -> [(name, lower bound)] in lookup order (bound
    descending, position descending), or None when there are too many to inline."""
    gse, cgs, c = grading_standard_entries, course_grading_schemes, courses
    used = (
        select(cgs.c.grading_standard_id)
        .select_from(cgs.join(c, c.c.id == cgs.c.course_id))
        .where(c.c.root_account_id == ctx.root_account_id, cgs.c.grading_standard_id.is_not(None))
        .distinct()
    )
    rows = conn.execute(
        select(gse.c.grading_standard_id, gse.c.name, gse.c.lower_bound)
        .where(gse.c.grading_standard_id.in_(used))
        .order_by(gse.c.grading_standard_id, gse.c.lower_bound.desc(), gse.c.position.desc())
        .limit(MAX_INLINE_ENTRIES + 1)
    ).all()
    if len(rows) > MAX_INLINE_ENTRIES:
        ctx.facts["standards"] = None
        return
    standards: dict[int, list[tuple[str, float]]] = {}
    for row in rows:
        standards.setdefault(int(row.grading_standard_id), []).append(
            (row.name, float(row.lower_bound))
        )
    ctx.facts["standards"] = standards


def resolve_grade_facts(conn: Connection, ctx: RunContext) -> None:
    resolve_account_facts(conn, ctx)
    resolve_standards(conn, ctx)


def _looked_up(ratio: ColumnElement[Any], standard: ColumnElement[Any]) -> ColumnElement[Any]:
    """The grade found per row by correlated lookups in the standard's entries."""
    gse = named_alias(grading_standard_entries, "gse")
    hit = (
        select(gse.c.name)
        .where(gse.c.grading_standard_id == standard, gse.c.lower_bound <= ratio)
        .order_by(gse.c.lower_bound.desc(), gse.c.position.desc())  # the index, backwards
        .limit(1)
        .correlate_except(gse)
        .scalar_subquery()
    )
    low = named_alias(grading_standard_entries, "gse_low")
    lowest = (
        select(low.c.name)
        .where(low.c.grading_standard_id == standard)
        .order_by(low.c.lower_bound, low.c.position)
        .limit(1)
        .correlate_except(low)
        .scalar_subquery()
    )
    return func.coalesce(hit, lowest)


def _bucketed(ratio: ColumnElement[Any], entries: FromClause) -> ColumnElement[Any]:
    """PostgreSQL: the grade from the standard's entries joined as two arrays (see
    :func:`standard_entries`), ascending by (bound, position): ``width_bucket`` counts the
    bounds at most the ratio, so the last of them is the entry the lookup picks (the highest
    bound, the highest position among equal bounds); none (a ratio below every bound) gives
    the first, the lowest bound and position. NaN counts every bound, as ``<=`` does on
    PostgreSQL. No entries (or no row joined): NULL, as the lookups give."""
    names = type_coerce(entries.c.names, ARRAY(String))
    return names[func.greatest(func.width_bucket(ratio, entries.c.bounds), 1)]


def standard_entries(standards: dict[int, list[tuple[str, float]]] | None) -> FromClause:
    """PostgreSQL: each grading standard's entries as arrays of bounds and names, ascending
    by (bound, position), for the standards not read when the run was resolved (all of them
    when there were too many to inline). Joined on the course's scheme, it gives the grade
    of a standard added since without a correlated subquery per row, which PostgreSQL may
    not run in a parallel worker: one such subquery anywhere in the select list keeps the
    whole projection in the leader (docs/decisions/performance.md)."""
    gse = named_alias(grading_standard_entries, "gse_all")
    order = (gse.c.lower_bound, gse.c.position)
    query = select(
        gse.c.grading_standard_id,
        type_coerce(
            func.array_agg(aggregate_order_by(gse.c.lower_bound, *order)),
            ARRAY(DOUBLE_PRECISION),
        ).label("bounds"),
        type_coerce(func.array_agg(aggregate_order_by(gse.c.name, *order)), ARRAY(String)).label(
            "names"
        ),
    ).group_by(gse.c.grading_standard_id)
    if standards:
        query = query.where(gse.c.grading_standard_id.not_in(list(standards)))
    return query.subquery("grade_entries")


def _inlined(
    ratio: ColumnElement[Any],
    standard: ColumnElement[Any],
    standards: dict[int, list[tuple[str, float]]],
    entries: FromClause | None = None,
    score: ColumnElement[Any] | None = None,
) -> ColumnElement[Any]:
    """The grade by CASE over the standards' entries read when the run was resolved: the
    first entry (bound descending, position descending) whose bound is at most the ratio,
    else the last (the lowest bound, lowest position), as the lookups give. A standard not
    read then (added since) is looked up per row, or (``entries``, PostgreSQL) read from the
    joined arrays of :func:`standard_entries`. With ``score`` (SQLite), the entries are found
    by comparing the score itself with each bound's least score (:func:`_reached`)."""
    arms = []
    for standard_id, read in standards.items():
        by_bound: ColumnElement[Any]
        if score is None:
            by_bound = case(
                *[(ratio >= literal(bound), literal(name)) for name, bound in read],
                else_=literal(read[-1][0]),  # the lowest bound, lowest position
            )
        else:
            by_bound = _reached(score, read)
        arms.append((standard == standard_id, by_bound))
    fallback = _looked_up(ratio, standard) if entries is None else _bucketed(ratio, entries)
    return case(*arms, else_=fallback) if arms else fallback


_SIGN = 1 << 63


def _order_key(x: float) -> int:
    """An integer in the order of the doubles (-0.0 just below 0.0; not NaN)."""
    bits = struct.unpack("<Q", struct.pack("<d", x))[0]
    return bits if not bits & _SIGN else -(bits ^ _SIGN) - 1


def _from_key(key: int) -> float:
    bits = key if key >= 0 else (-key - 1) | _SIGN
    return float(struct.unpack("<d", struct.pack("<Q", bits))[0])


@cache
def least_score(bound: float) -> float:
    """The least double ``s`` with ``s / 100.0 >= bound``, as IEEE doubles divide (rounded
    to nearest) and compare: the grade CASE's test of the ratio against ``bound``.

    Division by a positive constant rounded to nearest never decreases as ``s`` grows, so the
    scores reaching the bound are exactly those at least this one (no NaN is stored in SQLite;
    ``+inf`` reaches every bound but NaN, which SQLite cannot store either)."""
    if math.isnan(bound):
        raise ValueError("a NaN bound")
    lo, hi = _order_key(-math.inf), _order_key(math.inf)  # hi reaches it; find the least
    if _from_key(lo) / 100.0 >= bound:
        return -math.inf
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _from_key(mid) / 100.0 >= bound:
            hi = mid
        else:
            lo = mid
    return _from_key(hi)


def _reached(score: ColumnElement[Any], read: list[tuple[str, float]]) -> ColumnElement[Any]:
    """SQLite: the grade of ``read``'s entries (bound descending, position descending) by
    comparing the score with each bound's :func:`least_score`, halving the entries at each
    test: the same grade as the CASE over ``score / 100.0`` in fewer comparisons and no
    division (docs/decisions/performance.md, "the SQLite grade files, their page cache and
    their grade CASE by least scores")."""
    arms = [(least_score(bound), name) for name, bound in read[:-1]]
    return _first_reached(score, arms, read[-1][0])


def _first_reached(
    score: ColumnElement[Any], arms: list[tuple[float, str]], last: str
) -> ColumnElement[Any]:
    """The name of the first arm whose least score ``score`` reaches, else ``last``.

    The arms' least scores never increase along the list (bounds descending), so when the
    score reaches the middle arm's, the first arm it reaches is at most the middle one."""
    if len(arms) <= 2:
        if not arms:
            return literal(last)
        return case(
            *[(score >= literal(t), literal(name)) for t, name in arms], else_=literal(last)
        )
    mid = len(arms) // 2
    t, name = arms[mid]
    return case(
        (score >= literal(t), _first_reached(score, arms[:mid], name)),
        else_=_first_reached(score, arms[mid + 1 :], last),
    )


def grade(
    score: ColumnElement[Any],
    scheme: FromClause,
    standards: dict[int, list[tuple[str, float]]] | None = None,
    entries: FromClause | None = None,
    *,
    least_scores: bool = False,
) -> ColumnElement[Any]:
    """The grade a percent score maps to in the course's scheme; blank without a scheme.

    The entry with the highest lower bound at most the score (scores above 100 map to the top
    entry); a score below every bound maps to the lowest entry. Bounds are fractions, compared
    with ``score / 100`` so that a score of exactly 90 reaches a bound of 0.9. With
    ``standards`` (see :func:`resolve_standards`) the entries are CASE arms of the statement;
    without, correlated lookups per row. ``entries`` (PostgreSQL: :func:`standard_entries`
    joined on the scheme's standard) replaces the lookups. ``least_scores`` (SQLite): the
    default scheme's and the inlined standards' arms compare the score itself with each
    bound's :func:`least_score`, by halves (:func:`_reached`).
    """
    ratio = score / 100.0
    standard = scheme.c.grading_standard_id
    if least_scores:
        default = _reached(score, list(DEFAULT_SCHEME))
    else:
        default = case(
            *[(ratio >= bound, literal(name)) for name, bound in DEFAULT_SCHEME[:-1]],
            else_=literal(DEFAULT_SCHEME[-1][0]),
        )
    by_score = score if least_scores else None
    if standards is not None:
        named = _inlined(ratio, standard, standards, entries, by_score)
    elif entries is not None:
        named = _bucketed(ratio, entries)
    else:
        named = _looked_up(ratio, standard)
    return case(
        (scheme.c.course_id.is_(None), null()),
        (score.is_(None), null()),
        (standard.is_(None), default),
        else_=named,
    )


# ---------------------------------------------------------------- shared row source


@dataclass(frozen=True)
class Source:
    """The joined tables of one grade file and its filters."""

    frm: FromClause
    where: list[ColumnElement[bool]]
    bounds_from: FromClause
    bounds_where: list[ColumnElement[bool]]
    score: FromClause
    scheme: FromClause
    # The enrollment's preferred login joined when it is a candidate; PostgreSQL: the user's
    # first candidate joined (see _first_logins), and the standards' entries joined on the
    # scheme (see standard_entries).
    login_pref: FromClause
    login_first: FromClause | None = None
    entries: FromClause | None = None


def _login_candidates(
    ctx: RunContext, login: FromClause, include_deleted: bool
) -> list[ColumnElement[bool]]:
    cond: list[ColumnElement[bool]] = [login.c.account_id == ctx.root_account_id]
    if not include_deleted:
        cond.append(login.c.workflow_state != "deleted")
    return cond


def _first_logins(ctx: RunContext, include_deleted: bool) -> FromClause:
    """PostgreSQL: each user's first login candidate on the root account in the SIS export's
    order (:func:`learning_common.login_value`), one row per user (``DISTINCT ON``)."""
    cand = named_alias(pseudonyms, "login_cand")
    # Only the columns written: a wider subquery tipped the planner into joining it above
    # the Gather, serial (measured on the Multiple Grading Periods export).
    columns = [cand.c.sis_user_id]
    if ctx.facts.get("integration_ids"):
        columns.append(cand.c.integration_id)
    return (
        select(cand.c.user_id, *columns)
        .where(*_login_candidates(ctx, cand, include_deleted))
        .ext(distinct_on(cand.c.user_id))
        .order_by(
            cand.c.user_id,
            cand.c.workflow_state,
            case((cand.c.sis_user_id.is_(None), literal(1)), else_=literal(0)),
            cand.c.unique_id,
            cand.c.position,
            cand.c.id,
        )
        .subquery("login_first")
    )


def source(
    ctx: RunContext, term_filter: list[ColumnElement[bool]], *, scheme_by_course: bool = False
) -> Source:
    """Student enrollments with their course, term, section, user and course score (§4.1).

    ``scheme_by_course``: on PostgreSQL, the course's grading scheme joined to the course
    before the enrollments (the Multiple Grading Periods export; the Grade Export measured
    no gain, and more CPU with include_deleted)."""
    e, c = enrollments, courses
    include_deleted = ctx.flag("include_deleted")
    postgres = ctx.dialect == "postgresql"
    sc = named_alias(scores, "course_score")
    sc_on: list[ColumnElement[bool]] = [sc.c.enrollment_id == e.c.id, sc.c.course_score]
    scheme = named_alias(course_grading_schemes, "scheme")
    entries = standard_entries(ctx.facts.get("standards")) if postgres else None
    course_side: FromClause = c
    if entries is not None and scheme_by_course:
        # The course's scheme and its standard's entries joined inside the courses' side of
        # the enrollments' join: hashed with the term's courses, not merged with the
        # enrollments after a sort of every row by course that spilled to disk; the same rows
        # (docs/decisions/performance.md, "the PostgreSQL Multiple Grading Periods export
        # joins the scheme to the course").
        course_side = c.outerjoin(scheme, scheme.c.course_id == c.c.id).outerjoin(
            entries, entries.c.grading_standard_id == scheme.c.grading_standard_id
        )
    frm = (
        e.join(course_side, c.c.id == e.c.course_id)
        .join(enrollment_terms, enrollment_terms.c.id == c.c.enrollment_term_id)
        .join(course_sections, course_sections.c.id == e.c.course_section_id)
        .join(users, users.c.id == e.c.user_id)
    )
    # The enrollment's preferred login, joined by primary key when it is a candidate, beside
    # the user: on PostgreSQL past join_collapse_limit the written order is kept, and these
    # joins placed after the scores' gave a serial plan.
    pref = named_alias(pseudonyms, "login_pref")
    pref_on = and_(
        pref.c.id == e.c.sis_pseudonym_id,
        pref.c.user_id == e.c.user_id,
        *_login_candidates(ctx, pref, include_deleted),
    )
    frm = frm.outerjoin(pref, pref_on)
    first: FromClause | None = None
    if postgres:
        first = _first_logins(ctx, include_deleted)
        frm = frm.join(first, first.c.user_id == e.c.user_id)
    frm = frm.outerjoin(sc, and_(*sc_on))
    if course_side is c:
        frm = frm.outerjoin(scheme, scheme.c.course_id == c.c.id)
        if entries is not None:
            on = entries.c.grading_standard_id == scheme.c.grading_standard_id
            frm = frm.outerjoin(entries, on)
    rows: list[ColumnElement[bool]] = [
        e.c.root_account_id == ctx.root_account_id,
        c.c.root_account_id == ctx.root_account_id,
        e.c.type == "StudentEnrollment",
        *term_filter,
        *account_scope(ctx, c.c.account_id),
    ]
    if include_deleted:
        rows.append(e.c.workflow_state.in_(("active", "completed", "inactive", "deleted")))
        days = _limiting_days(ctx)
        if days is not None:
            try:
                since = ctx.now - timedelta(days=days)
            except OverflowError:  # a limiting period reaching past year 1: no limit at all
                since = EARLIEST if days > 0 else LATEST
            rows.append(
                or_(
                    e.c.workflow_state == "active",
                    c.c.conclude_at >= since,
                    and_(
                        e.c.workflow_state.in_(("inactive", "deleted")),
                        e.c.updated_at >= since,
                    ),
                )
            )
    else:
        rows.append(c.c.workflow_state == "available")
        rows.append(e.c.workflow_state.in_(("active", "completed")))
    # SQLite: a user with a candidate login: the preferred one joined, else a probe. On
    # PostgreSQL the inner join of the user's first candidate stands for the check.
    where = [*rows]
    if not postgres:
        where.append(or_(pref.c.id.is_not(None), has_root_login(ctx, include_deleted, e.c.user_id)))
    if not include_deleted:
        # Canvas filters the left-joined score in WHERE (``sc.workflow_state IS DISTINCT FROM
        # 'deleted'``): an enrollment whose course score row is deleted gives no row at all;
        # one without a score row gives a row with blank scores. (Not a bounds condition: the
        # planning query does not join the scores.)
        where.append(or_(sc.c.id.is_(None), sc.c.workflow_state != "deleted"))
    bounds = e.join(c, c.c.id == e.c.course_id)
    return Source(frm, where, bounds, rows, sc, scheme, pref, first, entries)


_RUBY_INTEGER = re.compile(r"\s*([+-]?\d+(?:_\d+)*)")


def ruby_to_i(text: str) -> int:
    """Ruby's ``String#to_i``: the leading integer (after blanks, with a sign and ``_``
    between digits), 0 when there is none (``"abc"``, ``""``)."""
    found = _RUBY_INTEGER.match(text)
    return int(found.group(1).replace("_", "")) if found else 0


def _limiting_days(ctx: RunContext) -> int | None:
    """The limiting period's days, as Canvas reads it: whenever the parameter is given (even
    blank), ``to_i`` of its value, so text without a leading number is 0 days and a negative
    number a time after now. None when the parameter is absent."""
    value = ctx.params.get("limiting_period")
    if value is None:
        return None
    return ruby_to_i(str(value))


def _login_col(
    ctx: RunContext, src: Source, include_deleted: bool, column: str, name: str
) -> ColumnElement[Any]:
    """The student's login's ``column`` (:func:`learning_common.login_value`'s choice): the
    enrollment's preferred login when it is a candidate (joined), else the user's first
    candidate: joined on PostgreSQL, looked up on SQLite (only for the rows without a
    preferred one). Joins, not the per-row probes of the preferred login: one primary key
    probe less a row on SQLite, and no correlated subquery on PostgreSQL, where one keeps
    the whole projection in the leader (docs/decisions/performance.md)."""
    pref = src.login_pref
    if src.login_first is None:
        first = login_value(ctx, include_deleted, enrollments.c.user_id, column, name=name)
    else:
        first = src.login_first.c[column]
    return case((pref.c.id.is_not(None), pref.c[column]), else_=first)


def student_columns(ctx: RunContext, src: Source) -> list[Col]:
    """student name .. term sis: who, where and when (§4.1 columns 1-13)."""
    c, s, t, u = courses, course_sections, enrollment_terms, users
    include_deleted = ctx.flag("include_deleted")
    cols = [
        Col("student name", u.c.name),
        Col("student id", u.c.id),
        Col("student sis", _login_col(ctx, src, include_deleted, "sis_user_id", "login")),
    ]
    if ctx.facts.get("integration_ids"):
        cols.append(
            Col(
                "student integration id",
                _login_col(ctx, src, include_deleted, "integration_id", "login_int"),
            )
        )
    cols += [
        Col("course", c.c.name),
        Col("course id", c.c.id),
        Col("course sis", c.c.sis_source_id),
        Col("section", s.c.name),
        Col("section id", s.c.id),
        Col("section sis", s.c.sis_source_id),
        Col("term", t.c.name),
        Col("term id", t.c.id),
        Col("term sis", t.c.sis_source_id),
    ]
    return cols


def score_columns(
    ctx: RunContext, src: Source, sc: FromClause, prefix: str = "", *, state: bool
) -> list[Col]:
    """Scores, (the enrollment state), then grades: §4.1's deliberate order."""
    override = bool(ctx.facts.get("override"))
    kinds = [k for k in SCORE_KINDS if k != "override" or override]

    def score_col(kind: str) -> Col:
        header = f"{prefix}{kind.replace('_', ' ')} score"
        if ctx.dialect == "sqlite":
            # The text stored beside the score (ruby_float's, generated by the database): no
            # formatter, so the part takes SQLite's line path. PostgreSQL formats in the
            # statement (reports.sqlformat) and takes COPY (docs/decisions/performance.md).
            return Col(header, sc.c[f"{kind}_score_text"])
        return Col(header, sc.c[f"{kind}_score"], ruby_float)

    cols = [score_col("current"), score_col("final")]
    if state:
        label = case(STATE_LABELS, value=enrollments.c.workflow_state, else_=null())
        cols.append(Col("enrollment state", label))
    cols += [score_col(k) for k in kinds[2:]]
    cols += [
        Col(
            f"{prefix}{k.replace('_', ' ')} grade",
            grade(
                sc.c[f"{k}_score"],
                src.scheme,
                ctx.facts.get("standards"),
                src.entries,
                least_scores=ctx.dialect == "sqlite",
            ),
        )
        for k in kinds
    ]
    return cols


# SQLite: a grade file's shard reads its pages with the sqlite3 CLI's default cache of 2 MB
# (about 2,000 KiB), not the line path's 32 MB: its probes (the user, section, login and
# scores of each enrollment) rarely read a page again, and in the bigger cache each page read
# fills a buffer no longer in the CPU's caches: on `large`, 15-20% more CPU for the statement
# (docs/decisions/performance.md, "the SQLite grade files, their page cache ...").
GRADES_CACHE_KIB = CLI_CACHE_KIB


def _part(ctx: RunContext, src: Source, columns: list[Col], shard_scale: int = 1) -> PartQuery:
    # Keyed on courses.id rather than enrollments.course_id (the same value): SQLite then sees
    # that courses read in id order (through the term or account index too) with their
    # enrollments in id order already give the output order, and sorts nothing in memory.
    return PartQuery(
        columns,
        src.frm,
        src.where,
        courses.c.id,
        bounds_from=src.bounds_from,
        bounds_where=src.bounds_where,
        then_by=(enrollments.c.id,),
        shard_scale=shard_scale,
        sqlite_cache_kib=GRADES_CACHE_KIB,
    )


# ---------------------------------------------------------------- grade_export_csv (§4.1)


def grade_export_file(ctx: RunContext) -> PartQuery:
    src = source(ctx, term_scope(ctx, courses.c.enrollment_term_id))
    columns = [*student_columns(ctx, src), *score_columns(ctx, src, src.score, state=True)]
    # PostgreSQL: one range, whose COPY gets the server's parallel query when no other shard
    # waits; in shards, each ran serial and together cost 1.1x the one range's backend and
    # helper CPU (docs/decisions/performance.md, "Issue 19: the PostgreSQL grade export in
    # one range"). SQLite keeps its shards (no helpers to use the other core).
    return _part(ctx, src, columns, ONE_RANGE_SCALE if ctx.dialect == "postgresql" else 1)


def grade_extra_text(ctx: RunContext) -> str:
    parts = common_extra_text(ctx)
    # Canvas adds the fragment whenever the parameter is present (not blank), include_deleted
    # or not, although the period only limits rows with include_deleted.
    if given(ctx, "limiting_period") is not None:
        parts.append(LIMITED_TEXT)
    return " ".join(parts)


GRADE_EXPORT = register(
    Report(
        name="grade_export_csv",
        title="Grade Export",
        description=(
            "One row per student enrollment with the course's current, final and unposted "
            "scores and the grades they map to, for all terms or one term."
        ),
        parameters={
            "enrollment_term_id": Parameter(TERM_DESCRIPTION, kind="term", label="Term"),
            "include_deleted": Parameter(DELETED_DESCRIPTION),
        },
        parts=[Part("grades", grade_export_file)],
        select_parts=checked(["grades"]),
        extra_text=grade_extra_text,
        resolve=resolve_grade_facts,
    )
)


# ---------------------------------------------------------------- mgp_grade_export_csv (§4.2)


@dataclass(frozen=True)
class TermFile:
    """One file of the per-term zip: its term and grading period set (None: not configured)."""

    term_id: int
    set_id: int | None
    set_title: str | None
    periods: tuple[tuple[int, str], ...]  # (id, title) of active periods by start date


def _entry_name(name: str, term_id: int, taken: set[str]) -> str:
    """A term's zip entry name: its name, kept flat, made unique with the term id if needed."""
    base = name.replace("/", "_").replace("\\", "_")
    out = base if base not in taken else f"{base} ({term_id})"
    return out[:255]


def resolve_terms(conn: Connection, ctx: RunContext) -> None:
    """The account facts and standards, then the terms of the zip with their sets and
    periods."""
    resolve_grade_facts(conn, ctx)
    t = enrollment_terms
    if ctx.term_ids is not None:
        found = {
            r.id: r
            for r in conn.execute(
                select(t.c.id, t.c.name).where(t.c.id.in_(ctx.term_ids or [-1]))
            ).all()
        }
        terms = [found[i] for i in ctx.term_ids if i in found]
    else:
        terms = list(
            conn.execute(
                select(t.c.id, t.c.name)
                .where(t.c.root_account_id == ctx.root_account_id, t.c.workflow_state == "active")
                .order_by(t.c.id)
            ).all()
        )
    gpt, gpg, gp = grading_period_group_terms, grading_period_groups, grading_periods
    files: dict[str, TermFile] = {}
    for term in terms:
        group = conn.execute(
            select(gpg.c.id, gpg.c.title)
            .select_from(gpt.join(gpg, gpg.c.id == gpt.c.grading_period_group_id))
            .where(gpt.c.enrollment_term_id == term.id, gpg.c.workflow_state == "active")
        ).first()
        periods: tuple[tuple[int, str], ...] = ()
        if group is not None:
            periods = tuple(
                (int(r.id), r.title)
                for r in conn.execute(
                    select(gp.c.id, gp.c.title)
                    .where(
                        gp.c.grading_period_group_id == group.id, gp.c.workflow_state == "active"
                    )
                    .order_by(gp.c.start_date, gp.c.id)
                )
            )
        name = _entry_name(term.name, int(term.id), set(files))
        files[name] = TermFile(
            term_id=int(term.id),
            set_id=None if group is None else int(group.id),
            set_title=None if group is None else group.title,
            periods=periods,
        )
    ctx.facts["term_files"] = files


def mgp_file(name: str, ctx: RunContext) -> PartQuery:
    tf: TermFile = ctx.facts["term_files"][name]
    e = enrollments
    if tf.set_id is None:
        # A single line and no header: the "header" is the message, and no row matches.
        return PartQuery([Col(NO_PERIODS, e.c.id)], e, [false()], e.c.id)
    src = source(ctx, [courses.c.enrollment_term_id == tf.term_id], scheme_by_course=True)
    frm = src.frm
    columns = [
        *student_columns(ctx, src),
        Col("grading period set", literal(tf.set_title)),
        Col("grading period set id", literal(tf.set_id)),
    ]
    for i, (period_id, title) in enumerate(tf.periods):
        sp = named_alias(scores, f"period_{i}")
        # The period's active score row, whatever include_deleted says (§4.2).
        on = [
            sp.c.enrollment_id == e.c.id,
            sp.c.grading_period_id == period_id,
            sp.c.workflow_state != "deleted",
        ]
        frm = frm.outerjoin(sp, and_(*on))
        columns.append(Col(f"{title} grading period id", literal(period_id)))
        columns += score_columns(ctx, src, sp, f"{title} ", state=False)
    columns += score_columns(ctx, src, src.score, state=True)
    # PostgreSQL: one range, as grade_export_file's, now that the statement's projection runs
    # in the parallel workers (docs/decisions/performance.md).
    scale = ONE_RANGE_SCALE if ctx.dialect == "postgresql" else 1
    return _part(ctx, replace(src, frm=frm), columns, scale)


def mgp_parts(ctx: RunContext) -> list[str]:
    check_references(ctx)
    return list(ctx.facts["term_files"])


MGP_GRADE_EXPORT = register(
    Report(
        name="mgp_grade_export_csv",
        title="Multiple Grading Periods Grade Export",
        description=(
            "A zip with one file per term: each student enrollment with its scores and grades "
            "in every grading period of the term's grading period set, then for the course."
        ),
        parameters={
            "enrollment_term_id": Parameter(
                TERM_DESCRIPTION, required=True, kind="term", label="Term"
            )
        },
        parts=[],
        select_parts=mgp_parts,
        extra_text=grade_extra_text,
        always_zip=True,
        resolve=resolve_terms,
        dynamic_part=lambda name: Part(name, partial(mgp_file, name)),
    )
)
