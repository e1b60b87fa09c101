"""The outcome reports (spec other-reports.md §4.5, §4.6, §4.18).

* ``outcome_export_csv``: the report account's outcome group tree and linked outcomes, in a
  re-importable form. Groups (breadth first) then outcomes (by id), keyed on a rank computed
  when the run's context is resolved; outcome rows end with their variable rating cells.
* ``outcome_results_csv``: one row per outcome result (per question result for quizzes) of
  outcomes linked in the report account; keyed on the user, course or outcome per ``order``.
* ``student_assignment_outcome_map_csv`` (Student Competency): one row per student login,
  assignment aligned to such an outcome and linking group, assessed or not; keyed on the login.

The last two write ``No outcomes found`` under the header when they have no row.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    FromClause,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    not_,
    null,
    or_,
    select,
    type_coerce,
    union_all,
)

from reportcard.db.learning_tables import (
    assessment_questions,
    assignments,
    learning_outcome_alignments,
    learning_outcome_groups,
    learning_outcome_links,
    learning_outcome_question_results,
    learning_outcome_ratings,
    learning_outcome_results,
    learning_outcomes,
    outcome_friendly_descriptions,
    quiz_submissions,
    quizzes,
    submissions,
)
from reportcard.db.tables import (
    account_ancestors,
    accounts,
    course_sections,
    courses,
    enrollments,
    pseudonyms,
    users,
)
from reportcard.reports.aliases import named_alias
from reportcard.reports.catalog import (
    TIME,
    Cells,
    Col,
    Parameter,
    Part,
    PartQuery,
    Report,
    RunContext,
    register,
)
from reportcard.reports.join_order import cross_join
from reportcard.reports.learning_common import (
    checked,
    common_extra_text,
    locale_number,
    mastered,
    resolve_account_facts,
    ruby_float,
)
from reportcard.reports.outcome_scales import (
    DEFAULT_MASTERY,
    DEFAULT_RATINGS,
    Scale,
    rating_score,
    read_ratings,
    scale_for,
)
from reportcard.reports.sis_scope import account_scope, term_scope

TERM_DESCRIPTION = "The canvas id of the term of courses to report on"
DELETED_DESCRIPTION = "Include deleted objects"
ORDER_DESCRIPTION = "The sort order of the rows: users (the default), courses or outcomes"
NO_OUTCOMES = (("No outcomes found",),)
ORDERS = ("users", "courses", "outcomes")
QUIZ_TYPES = ("Quiz", "Quizzes::Quiz")
QUIZ_SUBMISSION_TYPES = ("QuizSubmission", "Quizzes::QuizSubmission")
OUTCOME_KEY_BASE = 10**12  # export keys: group ranks below it, outcome ids above it


def _guid(table: FromClause, prefix: str) -> ColumnElement[Any]:
    """The object's vendor guid, or ``<prefix>:<id>`` when it has none."""
    own = func.nullif(table.c.vendor_guid, "")
    return func.coalesce(own, literal(f"{prefix}:") + cast(table.c.id, String))


def _account_links(ctx: RunContext) -> Any:
    """Active links of the report account into its outcome groups.

    The group's own state is not looked at: Canvas joins the linking group without a state
    condition in all three outcome reports (deleting a group deletes its links, so an active
    link into a deleted group only comes from data loaded that way).
    """
    lk = learning_outcome_links
    g = learning_outcome_groups
    return (
        select(lk.c.id, lk.c.learning_outcome_id, lk.c.learning_outcome_group_id)
        .select_from(lk.join(g, g.c.id == lk.c.learning_outcome_group_id))
        .where(
            lk.c.context_type == "Account",
            lk.c.context_id == ctx.account_id,
            lk.c.workflow_state == "active",
        )
    )


# ---------------------------------------------------------------- outcome_export_csv (§4.5)


def resolve_export(conn: Connection, ctx: RunContext) -> None:
    """The group order, and each exported outcome's parent guids, mastery and ratings."""
    resolve_account_facts(conn, ctx)
    g = learning_outcome_groups
    groups = conn.execute(
        select(g.c.id, g.c.parent_group_id, g.c.vendor_guid).where(
            g.c.context_type == "Account",
            g.c.context_id == ctx.account_id,
            g.c.workflow_state != "deleted",
        )
    ).all()
    children: dict[int | None, list[int]] = defaultdict(list)
    for row in groups:
        children[row.parent_group_id].append(int(row.id))
    roots = sorted(children.get(None, []))
    # Breadth first from the root groups (excluded), each generation in id order.
    rank: dict[int, int] = {}
    generation = sorted(c for r in roots for c in children.get(r, []))
    while generation:
        for gid in generation:
            rank[gid] = len(rank) + 1
        generation = sorted(c for gid in generation for c in children.get(gid, []) if c not in rank)
    guid = {
        int(r.id): r.vendor_guid or f"canvas_outcome_group:{r.id}" for r in groups if r.id in rank
    }
    links = _account_links(ctx).subquery("links")
    lg = named_alias(learning_outcome_groups, "linking_group")
    parents: dict[int, list[str]] = defaultdict(list)
    # Every linking group but a root one gives its guid, exported or not (Canvas aggregates
    # the guids of the links' groups whatever their state), in group id order.
    for row in conn.execute(
        select(links.c.learning_outcome_id, lg.c.id, lg.c.parent_group_id, lg.c.vendor_guid)
        .select_from(links.join(lg, lg.c.id == links.c.learning_outcome_group_id))
        .order_by(lg.c.id)
    ):
        linked = parents[int(row.learning_outcome_id)]  # linked, even if only at the root
        if row.parent_group_id is None:
            continue
        group_guid = guid.get(int(row.id)) or row.vendor_guid or f"canvas_outcome_group:{row.id}"
        if group_guid not in linked:
            linked.append(group_guid)
    o = learning_outcomes
    criteria = {
        int(r.id): r
        for r in conn.execute(
            select(o.c.id, o.c.mastery_points, o.c.points_possible).where(
                o.c.id.in_(select(links.c.learning_outcome_id))
            )
        )
    }
    lor = learning_outcome_ratings
    ratings: dict[int, list[tuple[float, str | None]]] = defaultdict(list)
    for r in conn.execute(
        select(lor.c.learning_outcome_id, lor.c.points, lor.c.description)
        .where(lor.c.learning_outcome_id.in_(select(links.c.learning_outcome_id)))
        .order_by(lor.c.learning_outcome_id, lor.c.position)
    ):
        ratings[int(r.learning_outcome_id)].append((r.points, r.description))
    # outcome id -> (parent guids, mastery points, [(points, description)])
    outcomes: dict[int, tuple[str | None, Any, list[tuple[Any, str | None]]]] = {}
    for oid, row in criteria.items():
        guids = " ".join(parents.get(oid, [])) or None
        if row.points_possible is None:
            outcomes[oid] = (guids, DEFAULT_MASTERY, list(DEFAULT_RATINGS))
        else:
            outcomes[oid] = (guids, row.mastery_points, ratings.get(oid, []))
    ctx.facts["group_rank"] = rank
    ctx.facts["export_outcomes"] = outcomes


def outcome_export_file(ctx: RunContext) -> PartQuery:
    rank: dict[int, int] = ctx.facts["group_rank"]
    outcomes: dict[int, Any] = ctx.facts["export_outcomes"]
    locale = ctx.facts.get("locale")
    scales = bool(ctx.facts.get("mastery_scales"))
    g = learning_outcome_groups
    parent = named_alias(learning_outcome_groups, "parent")
    o = learning_outcomes
    parent_guid = case(
        (parent.c.parent_group_id.is_(None), null()),
        else_=_guid(parent, "canvas_outcome_group"),
    )
    # Keys go past 2**31 (outcome ids above OUTCOME_KEY_BASE): typed BIGINT for PostgreSQL.
    rank_of = case({gid: r for gid, r in rank.items()}, value=g.c.id) if rank else g.c.id
    group_key = type_coerce(rank_of, BigInteger)
    group_arm = (
        select(
            group_key.label("k"),
            _guid(g, "canvas_outcome_group").label("vendor_guid"),
            literal("group").label("object_type"),
            g.c.title.label("title"),
            g.c.description.label("description"),
            null().label("friendly_description"),
            null().label("display_name"),
            null().label("calculation_method"),
            null().label("calculation_int"),
            parent_guid.label("parent_guids"),
            g.c.workflow_state.label("workflow_state"),
            null().label("outcome_id"),
        )
        .select_from(g.outerjoin(parent, parent.c.id == g.c.parent_group_id))
        .where(g.c.id.in_(list(rank) or [-1]))
    )
    fd = outcome_friendly_descriptions
    aa = account_ancestors
    friendly = (
        select(fd.c.description)
        .select_from(fd.join(aa, aa.c.ancestor_id == fd.c.context_id))
        .where(
            fd.c.learning_outcome_id == o.c.id,
            fd.c.context_type == "Account",
            fd.c.workflow_state == "active",
            aa.c.account_id == ctx.account_id,
        )
        .order_by(aa.c.depth, fd.c.id)
        .limit(1)
        .correlate_except(fd, aa)
        .scalar_subquery()
    )
    guid_map = {oid: v[0] for oid, v in outcomes.items() if v[0] is not None}
    outcome_guids = case(guid_map, value=o.c.id, else_=null()) if guid_map else null()
    outcome_arm = select(
        type_coerce(literal(OUTCOME_KEY_BASE, BigInteger) + o.c.id, BigInteger).label("k"),
        _guid(o, "canvas_outcome").label("vendor_guid"),
        literal("outcome").label("object_type"),
        o.c.short_description.label("title"),
        o.c.description.label("description"),
        friendly.label("friendly_description"),
        o.c.display_name.label("display_name"),
        o.c.calculation_method.label("calculation_method"),
        o.c.calculation_int.label("calculation_int"),
        outcome_guids.label("parent_guids"),
        o.c.workflow_state.label("workflow_state"),
        o.c.id.label("outcome_id"),
    ).where(o.c.id.in_(list(outcomes) or [-1]), o.c.workflow_state != "deleted")
    u = union_all(group_arm, outcome_arm).subquery("export")

    def mastery(row_outcome: Any) -> Any:
        return None if row_outcome is None else locale_number(outcomes[int(row_outcome)][1], locale)

    def rating_cells(row_outcome: Any) -> Any:
        # A group row ends with its (empty) mastery_points cell: Canvas writes groups from
        # the 11 scalar columns, without the ratings cell of the header.
        if row_outcome is None:
            return Cells(())
        cells = []
        for points, description in outcomes[int(row_outcome)][2]:
            cells += [locale_number(points, locale), description]
        return Cells(cells)

    columns = [
        Col("vendor_guid", u.c.vendor_guid),
        Col("object_type", u.c.object_type),
        Col("title", u.c.title),
        Col("description", u.c.description),
        Col("friendly_description", u.c.friendly_description),
        Col("display_name", u.c.display_name),
    ]
    if not scales:
        columns += [
            Col("calculation_method", u.c.calculation_method),
            Col("calculation_int", u.c.calculation_int),
        ]
    columns += [
        Col("parent_guids", u.c.parent_guids),
        Col("workflow_state", u.c.workflow_state),
    ]
    if not scales:
        columns += [
            Col("mastery_points", u.c.outcome_id, mastery),
            Col("ratings", u.c.outcome_id, rating_cells),
        ]
    return PartQuery(columns, u, [], u.c.k)


OUTCOME_EXPORT = register(
    Report(
        name="outcome_export_csv",
        title="Outcome Export",
        description=(
            "The account's outcome groups and the outcomes linked into them, with vendor and "
            "parent guids, in a form the outcomes import reads back."
        ),
        parameters={},
        parts=[Part("outcomes", outcome_export_file)],
        select_parts=lambda ctx: ["outcomes"],
        extra_text=lambda ctx: "",
        resolve=resolve_export,
    )
)


# ---------------------------------------------------------------- shared row pieces


def resolve_result_facts(conn: Connection, ctx: RunContext) -> None:
    """The account facts, and the ratings of the outcomes linked in the report account
    (written into the statement instead of looked up per row)."""
    resolve_account_facts(conn, ctx)
    links = _account_links(ctx).subquery("linked")
    ctx.facts["ratings"] = read_ratings(conn, select(links.c.learning_outcome_id))


def _student_enrollment(
    ctx: RunContext, e: FromClause, include_deleted: bool, *, per_state: bool
) -> list[ColumnElement[bool]]:
    """A student enrollment of the root account, one per (user, course, section), or per
    (user, course, section, state) with ``per_state``; the lowest enrollment id stands for
    the others."""
    twin = named_alias(enrollments, "twin")
    cond: list[ColumnElement[bool]] = [
        e.c.type == "StudentEnrollment",
        e.c.root_account_id == ctx.root_account_id,
    ]
    twin_cond: list[ColumnElement[bool]] = [
        twin.c.user_id == e.c.user_id,
        twin.c.course_id == e.c.course_id,
        twin.c.course_section_id == e.c.course_section_id,
        twin.c.type == "StudentEnrollment",
        twin.c.root_account_id == ctx.root_account_id,
        twin.c.id < e.c.id,
    ]
    if per_state:
        twin_cond.append(twin.c.workflow_state == e.c.workflow_state)
    if not include_deleted:
        cond.append(e.c.workflow_state != "deleted")
        twin_cond.append(twin.c.workflow_state != "deleted")
    dup = select(twin.c.id).where(*twin_cond).correlate_except(twin).exists()
    return [*cond, not_(dup)]


def _course_filter(ctx: RunContext, c: FromClause, include_deleted: bool) -> list[Any]:
    out: list[Any] = [
        c.c.root_account_id == ctx.root_account_id,
        *term_scope(ctx, c.c.enrollment_term_id),
        *account_scope(ctx, c.c.account_id),
    ]
    if not include_deleted:
        out.append(c.c.workflow_state.in_(("available", "completed")))
    return out


def _url(ctx: RunContext, course_id: Any, assignment_id: Any) -> ColumnElement[Any]:
    domain = ctx.facts.get("domain")
    if not domain:
        return null()
    # Canvas writes the url whatever the row: without an assignment it ends ``/assignments/``.
    return (
        literal(f"https://{domain}/courses/")
        + cast(course_id, String)
        + literal("/assignments/")
        + func.coalesce(cast(assignment_id, String), literal(""))
    )


def _hidden(hide: ColumnElement[Any], value: ColumnElement[Any]) -> ColumnElement[Any]:
    """Blank when the result hides points."""
    return case((hide.is_(True), null()), else_=value)


def _outcome_columns(
    ctx: RunContext,
    scale: Scale,
    x: ColumnElement[Any],
    hide: ColumnElement[Any],
    possible: ColumnElement[Any],
    mastery: ColumnElement[Any],
    group: FromClause,
    account: FromClause,
    enrollment: FromClause,
    o: FromClause,
) -> list[Col]:
    """friendly name .. enrollment state, the tail both result reports share."""
    return [
        Col("learning outcome friendly name", o.c.display_name),
        Col("learning outcome points possible", _hidden(hide, possible), ruby_float),
        Col("learning outcome mastery score", _hidden(hide, scale.mastery_points), ruby_float),
        Col("learning outcome mastered", mastered(mastery)),
        Col("learning outcome rating", scale.rating(x)),
        Col("learning outcome rating points", _hidden(hide, scale.rating_points(x)), ruby_float),
        Col("learning outcome group title", group.c.title),
        Col("learning outcome group id", group.c.id),
        Col("account id", account.c.id),
        Col("account name", account.c.name),
        Col("enrollment state", enrollment.c.workflow_state),
    ]


def outcome_extra_text(ctx: RunContext) -> str:
    parts = common_extra_text(ctx)
    order = _order(ctx)
    if order is not None:
        parts.append(f"Order: {order}")
    return " ".join(parts)


def _order(ctx: RunContext) -> str | None:
    value = ctx.params.get("order")
    text = str(value).strip().lower() if value is not None else ""
    return text if text in ORDERS else None


# ---------------------------------------------------------------- outcome_results_csv (§4.6)


def outcome_results_file(ctx: RunContext) -> PartQuery:
    include_deleted = ctx.flag("include_deleted")
    r = learning_outcome_results
    o = learning_outcomes
    al = learning_outcome_alignments
    c = courses
    acct = named_alias(accounts, "course_account")
    e = enrollments
    s = course_sections
    u = users
    p = pseudonyms
    q = quizzes
    qs = quiz_submissions
    a = assignments
    sub = submissions
    qr = learning_outcome_question_results
    aq = assessment_questions
    g = learning_outcome_groups
    lk = learning_outcome_links

    first_link = (
        _account_links(ctx)
        .with_only_columns(
            func.min(learning_outcome_links.c.id).label("link_id"),
            learning_outcome_links.c.learning_outcome_id,
        )
        .group_by(learning_outcome_links.c.learning_outcome_id)
        .subquery("first_link")
    )
    # Canvas's quiz results: either spelling of the association and artifact types.
    quiz_result = r.c.association_type.in_(QUIZ_TYPES)
    assignment_id = func.coalesce(a.c.id, q.c.assignment_id)
    sub_on = and_(
        sub.c.assignment_id == assignment_id,
        sub.c.user_id == r.c.user_id,
        sub.c.workflow_state.not_in(("deleted", "unsubmitted")),
    )
    # SQLite, ``+ 0``: results are read through the key's index (rows come in key order and
    # only rows sharing a key are sorted), never looked up from the few linked outcomes.
    # PostgreSQL gets the plain column: with ``+ 0`` it estimates the results at a twentieth
    # of their number and probes the enrollments by user alone (docs/decisions/performance.md).
    outcome_id: ColumnElement[Any] = r.c.learning_outcome_id
    if ctx.dialect != "postgresql":
        outcome_id = outcome_id + 0
    frm = (
        r.join(first_link, first_link.c.learning_outcome_id == outcome_id)
        .join(lk, lk.c.id == first_link.c.link_id)
        .join(g, g.c.id == lk.c.learning_outcome_group_id)
        .join(o, o.c.id == r.c.learning_outcome_id)
        .join(al, al.c.id == r.c.alignment_id)
        .join(c, c.c.id == r.c.course_id)
        .join(acct, acct.c.id == c.c.account_id)
        .join(e, and_(e.c.user_id == r.c.user_id, e.c.course_id == r.c.course_id))
        .join(s, s.c.id == e.c.course_section_id)
        .join(u, u.c.id == r.c.user_id)
        .join(p, p.c.user_id == r.c.user_id)
        .outerjoin(q, and_(quiz_result, q.c.id == r.c.association_id))
        .outerjoin(
            qs,
            and_(r.c.artifact_type.in_(QUIZ_SUBMISSION_TYPES), qs.c.id == r.c.artifact_id),
        )
        # Canvas joins plain assignments only (``a.type = 'Assignment'``): a result aligned
        # to a discussion checkpoint has no assignment title, id, submission or url id.
        .outerjoin(
            a,
            and_(
                al.c.content_type == "Assignment",
                a.c.id == al.c.content_id,
                a.c.type == "Assignment",
            ),
        )
        .outerjoin(sub, sub_on)
        .outerjoin(
            qr, and_(qr.c.learning_outcome_result_id == r.c.id, qr.c.workflow_state != "deleted")
        )
        .outerjoin(aq, aq.c.id == qr.c.assessment_question_id)
    )
    results: list[ColumnElement[bool]] = [
        r.c.workflow_state != "deleted",
        r.c.artifact_type.is_not(None),
        r.c.artifact_type != "Submission",
    ]
    logins: list[ColumnElement[bool]] = [not_(p.c.is_inst_id)]
    if not include_deleted:
        logins.append(p.c.workflow_state != "deleted")
    where = [
        *results,
        al.c.workflow_state != "deleted",
        *_course_filter(ctx, c, include_deleted),
        # Canvas's DISTINCT ON (order, login, section, result, ...) has no enrollment state:
        # two enrollments in one section give one row whatever their states.
        *_student_enrollment(ctx, e, include_deleted, per_state=False),
        *logins,
    ]
    is_quiz = q.c.id.is_not(None)
    has_qr = qr.c.id.is_not(None)

    def row(question: Any, result: Any) -> ColumnElement[Any]:
        return case((has_qr, question), else_=result)

    score = row(qr.c.score, r.c.score)
    possible = row(qr.c.possible, r.c.possible)
    scales = bool(ctx.facts.get("mastery_scales"))
    scale = scale_for(o, c, scales, ctx.facts.get("ratings"), ctx.dialect)
    # Rated from the whole result's percent, also on question rows (Canvas selects only
    # r.percent as the "total percent outcome score"); the question's own score and possible
    # only when the result has no percent.
    x = rating_score(scale, score, possible, r.c.percent)
    shown_possible = (
        case((quiz_result, possible), else_=scale.points_possible) if scales else possible
    )
    hide = r.c.hide_points
    columns = [
        Col("student name", u.c.sortable_name, commas=True),
        Col("student id", u.c.id),
        Col("student sis id", p.c.sis_user_id),
        Col("assessment title", case((is_quiz, q.c.title), else_=a.c.title)),
        Col("assessment id", case((is_quiz, q.c.id), else_=a.c.id)),
        Col(
            "assessment type",
            case(
                (quiz_result, literal("quiz")),
                (al.c.content_type == "Assignment", literal("assignment")),
                else_=null(),
            ),
        ),
        Col("submission date", func.coalesce(qs.c.finished_at, sub.c.submitted_at), TIME),
        Col(
            "submission score",
            case((qs.c.id.is_not(None), qs.c.score), else_=sub.c.score),
            ruby_float,
        ),
        Col("learning outcome name", o.c.short_description),
        Col("learning outcome id", o.c.id),
        Col("attempt", row(qr.c.attempt, r.c.attempt)),
        Col("outcome score", _hidden(hide, score), ruby_float),
        Col("assessment question", aq.c.name),
        Col("assessment question id", aq.c.id),
        Col("course name", c.c.name),
        Col("course id", c.c.id),
        Col("course sis id", c.c.sis_source_id),
        Col("section name", s.c.name),
        Col("section id", s.c.id),
        Col("section sis id", s.c.sis_source_id),
        Col("assignment url", _url(ctx, c.c.id, assignment_id)),
        *_outcome_columns(
            ctx,
            scale,
            x,
            hide,
            shown_possible,
            row(qr.c.mastery, r.c.mastery),
            g,
            acct,
            e,
            o,
        ),
    ]
    order = _order(ctx) or "users"
    tail = (r.c.id, s.c.id, e.c.workflow_state, p.c.id, qr.c.id)
    if order == "courses":
        key, then_by = r.c.course_id, (r.c.user_id, r.c.learning_outcome_id, *tail)
    elif order == "outcomes":
        key, then_by = r.c.learning_outcome_id, (r.c.user_id, r.c.course_id, *tail)
    else:
        key, then_by = r.c.user_id, (r.c.learning_outcome_id, r.c.course_id, *tail)
    bounds = r.join(c, c.c.id == r.c.course_id)
    return PartQuery(
        columns,
        frm,
        where,
        key,
        bounds_from=bounds,
        bounds_where=[*results, c.c.root_account_id == ctx.root_account_id],
        then_by=then_by,
        if_empty=NO_OUTCOMES,
    )


OUTCOME_RESULTS = register(
    Report(
        name="outcome_results_csv",
        title="Outcome Results",
        description=(
            "Every assessed outcome result (rubric assessments and quiz question banks) of the "
            "outcomes linked in the account, one row per student login and section."
        ),
        parameters={
            "enrollment_term_id": Parameter(TERM_DESCRIPTION, kind="term", label="Term"),
            "order": Parameter(
                ORDER_DESCRIPTION,
                kind="choice",
                label="Order",
                choices=(("users", "Users"), ("courses", "Courses"), ("outcomes", "Outcomes")),
            ),
            "include_deleted": Parameter(DELETED_DESCRIPTION),
        },
        parts=[Part("outcome_results", outcome_results_file)],
        select_parts=checked(["outcome_results"]),
        extra_text=outcome_extra_text,
        resolve=resolve_result_facts,
    )
)


# ------------------------------------------------- student_assignment_outcome_map_csv (§4.18)


def student_competency_file(ctx: RunContext) -> PartQuery:
    include_deleted = ctx.flag("include_deleted")
    p = pseudonyms
    u = users
    e = enrollments
    c = courses
    acct = named_alias(accounts, "course_account")
    s = course_sections
    a = assignments
    al = learning_outcome_alignments
    o = learning_outcomes
    lk = learning_outcome_links
    g = learning_outcome_groups
    r = learning_outcome_results
    sub = submissions
    # The assignments of the account's outcomes, once per (assignment, alignment, link):
    # on SQLite a small table materialized once and looked up by course (SQLite indexes it
    # on its own), instead of probing every assignment of every student's courses for an
    # alignment and the alignment's outcome for a link. PostgreSQL inlines it (materialized,
    # it measured slower there). See docs/decisions/performance.md.
    aa = named_alias(assignments, "aligned_assignment")
    aal = named_alias(learning_outcome_alignments, "aligned_tag")
    alk = named_alias(learning_outcome_links, "aligned_link")
    assignment_on: list[ColumnElement[bool]] = [aa.c.type == "Assignment"]
    if not include_deleted:
        assignment_on.append(aa.c.workflow_state != "deleted")
    aligned = (
        select(
            aa.c.course_id,
            aa.c.id.label("assignment_id"),
            aal.c.id.label("alignment_id"),
            alk.c.id.label("link_id"),
        )
        .select_from(
            aa.join(
                aal,
                and_(
                    aal.c.content_type == "Assignment",
                    aal.c.content_id == aa.c.id,
                    aal.c.workflow_state != "deleted",
                ),
            ).join(
                alk,
                and_(
                    alk.c.learning_outcome_id == aal.c.learning_outcome_id,
                    alk.c.context_type == "Account",
                    alk.c.context_id == ctx.account_id,
                    alk.c.workflow_state == "active",
                ),
            )
        )
        .where(*assignment_on)
        .cte("aligned")
    )
    sqlite = ctx.dialect == "sqlite"
    if sqlite:
        aligned = aligned.prefix_with("MATERIALIZED")
    # Canvas groups the enrollments by (user, course, section, state).
    student = _student_enrollment(ctx, e, include_deleted, per_state=True)
    # Canvas left-joins every result of the student on the alignment and filters them in
    # WHERE: a student whose only results there are deleted (or Submission artifacts) gives
    # no row, not an unassessed one.
    result_on = and_(r.c.alignment_id == al.c.id, r.c.user_id == p.c.user_id)
    usable_result = or_(
        r.c.id.is_(None),
        and_(
            r.c.workflow_state != "deleted",
            r.c.artifact_type.is_not(None),
            r.c.artifact_type != "Submission",
        ),
    )
    sub_on = and_(
        sub.c.assignment_id == a.c.id,
        sub.c.user_id == p.c.user_id,
        sub.c.workflow_state.not_in(("deleted", "unsubmitted")),
    )
    en: FromClause = e
    if sqlite:
        # SQLite: the student enrollments of the aligned courses picked once (the twin check
        # once an enrollment, not once per aligned assignment), then each one's login, user,
        # course and section, then its course's aligned rows: joins in this order (CROSS JOIN),
        # the order the planner does not find itself (docs/decisions/performance.md, "the
        # Student Competency map from its student enrollments picked once").
        en = (
            select(e.c.id, e.c.user_id, e.c.course_id, e.c.course_section_id, e.c.workflow_state)
            .where(e.c.course_id.in_(select(aligned.c.course_id)), *student)
            .cte("picked")
            .prefix_with("MATERIALIZED")
        )
        frm: FromClause = en
        for right, on in (
            (p, p.c.user_id == en.c.user_id),
            (u, u.c.id == p.c.user_id),
            (c, c.c.id == en.c.course_id),
            (acct, acct.c.id == c.c.account_id),
            (s, s.c.id == en.c.course_section_id),
            (aligned, aligned.c.course_id == c.c.id),
            (a, a.c.id == aligned.c.assignment_id),
            (al, al.c.id == aligned.c.alignment_id),
            (o, o.c.id == al.c.learning_outcome_id),
            (lk, lk.c.id == aligned.c.link_id),
            (g, g.c.id == lk.c.learning_outcome_group_id),
        ):
            frm = cross_join(frm, right, on)
    else:
        frm = (
            p.join(u, u.c.id == p.c.user_id)
            .join(e, e.c.user_id == p.c.user_id)
            .join(c, c.c.id == e.c.course_id)
            .join(acct, acct.c.id == c.c.account_id)
            .join(s, s.c.id == e.c.course_section_id)
            .join(aligned, aligned.c.course_id == c.c.id)
            .join(a, a.c.id == aligned.c.assignment_id)
            .join(al, al.c.id == aligned.c.alignment_id)
            .join(o, o.c.id == al.c.learning_outcome_id)
            .join(lk, lk.c.id == aligned.c.link_id)
            .join(g, g.c.id == lk.c.learning_outcome_group_id)
        )
    frm = frm.outerjoin(r, result_on).outerjoin(sub, sub_on)
    root_logins: list[ColumnElement[bool]] = [
        p.c.account_id == ctx.root_account_id,
        not_(p.c.is_inst_id),
    ]
    if not include_deleted:
        root_logins.append(p.c.workflow_state != "deleted")
    where = [
        *root_logins,
        *([] if sqlite else student),
        *_course_filter(ctx, c, include_deleted),
        usable_result,
    ]
    scale = scale_for(
        o, c, bool(ctx.facts.get("mastery_scales")), ctx.facts.get("ratings"), ctx.dialect
    )
    x = rating_score(scale, r.c.score, r.c.possible, None)
    # With account mastery scales every row shows the scale's points possible, assessed or
    # not (Canvas replaces it on every row that is not a quiz's); else the result's.
    pp = scale.points_possible if ctx.facts.get("mastery_scales") else r.c.possible
    hide = r.c.hide_points
    columns = [
        Col("student name", u.c.sortable_name, commas=True),
        Col("student id", u.c.id),
        Col("student sis id", p.c.sis_user_id),
        Col("assignment title", a.c.title),
        Col("assignment id", a.c.id),
        Col("submission date", sub.c.submitted_at, TIME),
        Col("submission score", sub.c.score, ruby_float),
        Col("learning outcome name", o.c.short_description),
        Col("learning outcome id", o.c.id),
        Col("attempt", r.c.attempt),
        Col("outcome score", _hidden(hide, r.c.score), ruby_float),
        Col("course name", c.c.name),
        Col("course id", c.c.id),
        Col("course sis id", c.c.sis_source_id),
        Col("section name", s.c.name),
        Col("section id", s.c.id),
        Col("section sis id", s.c.sis_source_id),
        Col("assignment url", _url(ctx, c.c.id, a.c.id)),
        *_outcome_columns(
            ctx,
            scale,
            x,
            hide,
            pp,
            r.c.mastery,
            g,
            acct,
            en,
            o,
        ),
    ]
    return PartQuery(
        columns,
        frm,
        where,
        p.c.id,
        bounds_from=p,
        bounds_where=root_logins,
        then_by=(c.c.id, a.c.id, o.c.id, g.c.id, s.c.id, en.c.workflow_state, r.c.id),
        if_empty=NO_OUTCOMES,
    )


STUDENT_COMPETENCY = register(
    Report(
        name="student_assignment_outcome_map_csv",
        title="Student Competency",
        description=(
            "For every student and assignment aligned to an outcome linked in the account, "
            "the submission and the outcome result if there is one."
        ),
        parameters={
            "enrollment_term_id": Parameter(TERM_DESCRIPTION, kind="term", label="Term"),
            "include_deleted": Parameter(DELETED_DESCRIPTION),
        },
        parts=[Part("student_competency", student_competency_file)],
        select_parts=checked(["student_competency"]),
        # Canvas's Student Competency adds no order fragment (it has no order parameter).
        extra_text=lambda ctx: " ".join(common_extra_text(ctx)),
        resolve=resolve_result_facts,
    )
)
