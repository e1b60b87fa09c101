"""The files of ``sis_export_csv`` and ``provisioning_csv``: one query builder per file.

Each builder takes the run context and the format (``sis=True`` for the SIS export) and
returns the part's query. Columns are declared once per file in the provisioning/SIS merged
order with the format they belong to (``BOTH``, ``SIS``, ``PROV``). The rules are those of the
spec ``sis-export-and-provisioning.md``: §2 for columns and values, §3 for rows.
Every file is keyed (sharded and ordered) on the primary key of its base table.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, FromClause, and_, case, func, null, or_, select

from reportcard.db.tables import (
    account_users,
    accounts,
    blueprint_subscriptions,
    communication_channels,
    course_sections,
    courses,
    enrollment_terms,
    enrollments,
    group_categories,
    group_memberships,
    groups,
    pseudonyms,
    roles,
    user_observers,
    users,
)
from reportcard.reports.aliases import named_alias
from reportcard.reports.catalog import TIME, PartQuery, RunContext
from reportcard.reports.formatting import PRONOUNS, sql_bool, sql_present
from reportcard.reports.sis_scope import (
    BOTH,
    PROV,
    SIS,
    STUDENT_VIEW,
    ColSpec,
    account_scope,
    chosen_login,
    columns,
    context_joins,
    context_scope,
    deleted_or,
    enrollment_filter,
    enrollment_states,
    in_list,
    mapped,
    mode_of,
    no_test_student,
    present,
    root_sis,
    sis_filters,
    term_scope,
    user_scope,
    when,
)

RECENTLY_DELETED = timedelta(days=120)  # deleted courses stay in include_deleted output

COURSE_STATUS_SIS = {"created": "active", "claimed": "active", "available": "active"}
COURSE_STATUS_PROV = {
    "created": "unpublished",
    "claimed": "unpublished",
    "available": "active",
    "completed": "concluded",
}
SIS_ROLE = {
    "TeacherEnrollment": "teacher",
    "TaEnrollment": "ta",
    "DesignerEnrollment": "designer",
    "StudentEnrollment": "student",
    "ObserverEnrollment": "observer",
}


# ---------------------------------------------------------------- users.csv (§2.1)


def users_file(ctx: RunContext, sis: bool) -> PartQuery:
    mode = mode_of(ctx, sis)
    p, u = pseudonyms, users
    cc = named_alias(communication_channels, "cc")
    email = (
        select(cc.c.path)
        .where(cc.c.user_id == u.c.id, cc.c.path_type == "email", cc.c.workflow_state != "retired")
        .order_by(cc.c.position, cc.c.id)
        .limit(1)
        .correlate_except(cc)
        .scalar_subquery()
    )
    specs: list[ColSpec] = [
        ("canvas_user_id", p.c.user_id, None, PROV),
        ("user_id", p.c.sis_user_id, None, BOTH),
        ("integration_id", p.c.integration_id, None, BOTH),
        ("authentication_provider_id", p.c.authentication_provider_id, None, BOTH),
        ("login_id", p.c.unique_id, None, BOTH),
        ("password", null(), None, SIS),
        ("first_name", u.c.first_name, None, BOTH),  # name_parts(sortable_name), stored
        ("last_name", u.c.last_name, None, BOTH),
        ("full_name", u.c.name, None, BOTH),
        ("sortable_name", u.c.sortable_name, None, BOTH),
        ("short_name", u.c.short_name, None, BOTH),
        ("email", email, None, BOTH),
        ("status", p.c.workflow_state, None, BOTH),
        ("created_by_sis", sql_present(p.c.sis_batch_id), None, PROV),
    ]
    if ctx.settings.get("can_add_pronouns"):
        # Mapped in SQL (formatting.pronouns' mapping): one Python formatter less per row.
        specs.append(("pronouns", mapped(u.c.pronouns, PRONOUNS), None, BOTH))
    specs.append(("uuid", u.c.uuid, None, PROV))
    root = p.c.account_id == ctx.root_account_id
    where = [
        root,
        ~p.c.is_inst_id,
        *no_test_student(p.c.user_id),
        *sis_filters(mode, present(p.c.sis_user_id), p.c.sis_batch_id),
        *deleted_or(mode, p.c.workflow_state, present(p.c.sis_user_id)),
        *user_scope(ctx, p.c.user_id),
    ]
    cols = [
        replace(c, commas=True) if c.header == "sortable_name" else c for c in columns(mode, specs)
    ]
    return PartQuery(
        cols,
        p.join(u, u.c.id == p.c.user_id),
        where,
        p.c.id,
        bounds_from=p,
        bounds_where=[root],
    )


# ---------------------------------------------------------------- accounts.csv (§2.2)


def accounts_file(ctx: RunContext, sis: bool) -> PartQuery:
    mode = mode_of(ctx, sis)
    a = accounts
    parent = named_alias(accounts, "parent")
    specs: list[ColSpec] = [
        ("canvas_account_id", a.c.id, None, PROV),
        ("account_id", a.c.sis_source_id, None, BOTH),
        ("canvas_parent_id", a.c.parent_account_id, None, PROV),
        ("parent_account_id", root_sis(ctx, parent), None, BOTH),
        ("name", a.c.name, None, BOTH),
        ("status", a.c.workflow_state, None, BOTH),
        ("created_by_sis", sql_present(a.c.sis_batch_id), None, PROV),
    ]
    root = a.c.root_account_id == ctx.root_account_id
    where = [
        root,
        *sis_filters(mode, present(a.c.sis_source_id), a.c.sis_batch_id),
        *deleted_or(mode, a.c.workflow_state, present(a.c.sis_source_id)),
    ]
    if not ctx.is_root:
        # As in Canvas: only the direct children of the report account, not its subtree.
        where.append(a.c.parent_account_id == ctx.account_id)
    return PartQuery(
        columns(mode, specs),
        a.outerjoin(parent, parent.c.id == a.c.parent_account_id),
        where,
        a.c.id,
        bounds_from=a,
        bounds_where=[root],
    )


# ---------------------------------------------------------------- terms.csv (§2.3)


def terms_file(ctx: RunContext, sis: bool) -> PartQuery:
    mode = mode_of(ctx, sis)
    t = enrollment_terms
    specs: list[ColSpec] = [
        ("canvas_term_id", t.c.id, None, PROV),
        ("term_id", t.c.sis_source_id, None, BOTH),
        ("name", t.c.name, None, BOTH),
        ("status", t.c.workflow_state, None, BOTH),
        ("start_date", t.c.start_at, TIME, BOTH),
        ("end_date", t.c.end_at, TIME, BOTH),
        ("created_by_sis", sql_present(t.c.sis_batch_id), None, PROV),
    ]
    root = t.c.root_account_id == ctx.root_account_id
    where = [
        root,
        *sis_filters(mode, present(t.c.sis_source_id), t.c.sis_batch_id),
        *deleted_or(mode, t.c.workflow_state, present(t.c.sis_source_id)),
    ]
    return PartQuery(columns(mode, specs), t, where, t.c.id, bounds_from=t, bounds_where=[root])


# ---------------------------------------------------------------- courses.csv (§2.4)


def _blueprint(
    ctx: RunContext, frm: FromClause, course_id: ColumnElement[Any]
) -> tuple[FromClause, FromClause]:
    """``frm`` left-joined to the active blueprint each course is subscribed to (or NULL).

    A course's blueprint is that of its lowest-id active subscription whose blueprint course
    is live on the root account. The qualifying subscriptions are grouped once per statement
    and joined by course. Two correlated subqueries per course (Canvas id, SIS id) did the
    same with a per-row sort and merge join on PostgreSQL, and their cost estimate switched
    JIT compilation on for the whole statement (issue 19, docs/decisions/performance.md).
    """
    sub = named_alias(blueprint_subscriptions, "bp_sub")
    bp = named_alias(courses, "bp")
    first = (
        select(sub.c.child_course_id, func.min(sub.c.id).label("subscription_id"))
        .select_from(sub.join(bp, bp.c.id == sub.c.blueprint_course_id))
        .where(
            sub.c.workflow_state == "active",
            bp.c.workflow_state != "deleted",
            bp.c.root_account_id == ctx.root_account_id,
        )
        .group_by(sub.c.child_course_id)
        .subquery("bp_first")
    )
    chosen = named_alias(blueprint_subscriptions, "bp_chosen")
    blueprint = named_alias(courses, "blueprint")
    joined = (
        frm.outerjoin(first, first.c.child_course_id == course_id)
        .outerjoin(chosen, chosen.c.id == first.c.subscription_id)
        .outerjoin(blueprint, blueprint.c.id == chosen.c.blueprint_course_id)
    )
    return joined, blueprint


def courses_file(ctx: RunContext, sis: bool) -> PartQuery:
    mode = mode_of(ctx, sis)
    c = courses
    acct = named_alias(accounts, "course_account")
    term = named_alias(enrollment_terms, "course_term")
    state = c.c.workflow_state
    status = mapped(state, COURSE_STATUS_SIS if sis else COURSE_STATUS_PROV)
    restrict = c.c.restrict_enrollments_to_course_dates
    frm, blueprint = _blueprint(
        ctx,
        c.join(acct, acct.c.id == c.c.account_id).join(term, term.c.id == c.c.enrollment_term_id),
        c.c.id,
    )
    specs: list[ColSpec] = [
        ("canvas_course_id", c.c.id, None, PROV),
        ("course_id", c.c.sis_source_id, None, BOTH),
        ("integration_id", c.c.integration_id, None, BOTH),
        ("short_name", c.c.course_code, None, BOTH),
        ("long_name", c.c.name, None, BOTH),
        ("canvas_account_id", c.c.account_id, None, PROV),
        ("account_id", root_sis(ctx, acct), None, BOTH),
        ("canvas_term_id", c.c.enrollment_term_id, None, PROV),
        ("term_id", term.c.sis_source_id, None, BOTH),
        ("status", status, None, BOTH),
        ("start_date", when(restrict, c.c.start_at), TIME, BOTH),
        ("end_date", when(restrict, c.c.conclude_at), TIME, BOTH),
        ("course_format", c.c.course_format, None, BOTH),
        ("canvas_blueprint_course_id", blueprint.c.id, None, PROV),
        ("blueprint_course_id", blueprint.c.sis_source_id, None, BOTH),
        ("created_by_sis", sql_present(c.c.sis_batch_id), None, PROV),
    ]
    root = c.c.root_account_id == ctx.root_account_id
    where = [root, *sis_filters(mode, present(c.c.sis_source_id), c.c.sis_batch_id)]
    if mode.include_deleted:
        recent = c.c.updated_at > ctx.now - RECENTLY_DELETED
        where.append(or_(state != "deleted", recent, present(c.c.sis_source_id)))
    else:
        where.append(state.not_in(["deleted", "completed"]))
    where += account_scope(ctx, c.c.account_id)
    where += term_scope(ctx, c.c.enrollment_term_id)
    return PartQuery(columns(mode, specs), frm, where, c.c.id, bounds_from=c, bounds_where=[root])


# ---------------------------------------------------------------- sections.csv (§2.5)


def sections_file(ctx: RunContext, sis: bool) -> PartQuery:
    mode = mode_of(ctx, sis)
    s = course_sections
    course = named_alias(courses, "current_course")
    acct = named_alias(accounts, "course_account")
    restrict = s.c.restrict_enrollments_to_section_dates
    specs: list[ColSpec] = [
        ("canvas_section_id", s.c.id, None, PROV),
        ("section_id", s.c.sis_source_id, None, BOTH),
        ("canvas_course_id", course.c.id, None, PROV),
        ("course_id", course.c.sis_source_id, None, BOTH),
        ("integration_id", s.c.integration_id, None, BOTH),
        ("name", s.c.name, None, BOTH),
        ("status", s.c.workflow_state, None, BOTH),
        ("start_date", when(restrict, s.c.start_at), TIME, BOTH),
        ("end_date", when(restrict, s.c.end_at), TIME, BOTH),
        ("canvas_account_id", acct.c.id, None, PROV),
        ("account_id", root_sis(ctx, acct), None, PROV),
        ("created_by_sis", sql_present(s.c.sis_batch_id), None, PROV),
    ]
    root = s.c.root_account_id == ctx.root_account_id
    both_sis = and_(present(s.c.sis_source_id), present(course.c.sis_source_id))
    where = [root, *sis_filters(mode, both_sis, s.c.sis_batch_id)]
    if mode.include_deleted:
        where.append(or_(s.c.workflow_state != "deleted", present(s.c.sis_source_id)))
    else:
        where += [s.c.workflow_state != "deleted", course.c.workflow_state != "deleted"]
    where += account_scope(ctx, course.c.account_id)
    where += term_scope(ctx, course.c.enrollment_term_id)
    frm = s.join(course, course.c.id == s.c.course_id).join(acct, acct.c.id == course.c.account_id)
    return PartQuery(columns(mode, specs), frm, where, s.c.id, bounds_from=s, bounds_where=[root])


# ---------------------------------------------------------------- enrollments.csv (§2.6)


def _enrollment_status(
    e: FromClause, section: FromClause, course: FromClause
) -> ColumnElement[Any]:
    """§2.6 status: deleted section or course first, then the enrollment's own state.

    The date-based state (Canvas's enrollment_states table) is not modelled, so the
    "concluded by date" rule never applies.
    """
    state = e.c.workflow_state
    return case(
        (section.c.workflow_state == "deleted", "deleted"),
        (course.c.workflow_state == "deleted", "deleted"),
        (state.in_(["invited", "creation_pending"]), "invited"),
        (state == "completed", "concluded"),
        else_=state,
    )


def enrollments_file(ctx: RunContext, sis: bool) -> PartQuery:
    mode = mode_of(ctx, sis)
    e = enrollments
    section = named_alias(course_sections, "section")
    course = named_alias(courses, "current_course")
    role = named_alias(roles, "role")
    state = e.c.workflow_state
    role_name = case(
        (role.c.built_in, case(SIS_ROLE, value=e.c.type, else_=role.c.name)), else_=role.c.name
    )
    login, login_on = chosen_login(
        ctx, mode, e.c.user_id, preferred=e.c.sis_pseudonym_id, name="user_login"
    )
    observed, observed_on = chosen_login(ctx, mode, e.c.associated_user_id, name="observed_login")
    specs: list[ColSpec] = [
        ("canvas_course_id", e.c.course_id, None, PROV),
        ("course_id", course.c.sis_source_id, None, BOTH),
        ("canvas_user_id", e.c.user_id, None, PROV),
        ("user_id", login.c.sis_user_id, None, BOTH),
        ("role", role_name, None, BOTH),
        ("role_id", e.c.role_id, None, BOTH),
        ("canvas_section_id", e.c.course_section_id, None, PROV),
        ("section_id", section.c.sis_source_id, None, BOTH),
        ("status", _enrollment_status(e, section, course), None, BOTH),
        ("canvas_associated_user_id", e.c.associated_user_id, None, PROV),
        ("associated_user_id", observed.c.sis_user_id, None, BOTH),
        ("created_by_sis", sql_present(e.c.sis_batch_id), None, PROV),
        ("base_role_type", e.c.type, None, PROV),
        ("limit_section_privileges", sql_bool(e.c.limit_privileges_to_course_section), None, BOTH),
        ("canvas_enrollment_id", e.c.id, None, PROV),
    ]
    root = e.c.root_account_id == ctx.root_account_id
    sis_rows = and_(
        state.not_in(["rejected", "invited", "creation_pending"]),
        or_(present(course.c.sis_source_id), present(section.c.sis_source_id)),
    )
    where = [root, e.c.type != STUDENT_VIEW, *sis_filters(mode, sis_rows, e.c.sis_batch_id)]
    if mode.include_deleted:
        where.append(or_(state != "deleted", present(e.c.sis_batch_id)))
    else:
        where.append(state.not_in(["deleted", "completed"]))
    where += account_scope(ctx, course.c.account_id)
    where += term_scope(ctx, course.c.enrollment_term_id)
    types = enrollment_filter(ctx)
    if types is not None:
        where.append(in_list(e.c.type, types))
    states = enrollment_states(ctx)
    if states is not None:
        where.append(in_list(state, states))
    frm = (
        e.join(section, section.c.id == e.c.course_section_id)
        .join(course, course.c.id == section.c.course_id)
        .join(role, role.c.id == e.c.role_id)
        .join(login, login_on)
        .outerjoin(observed, observed_on)
    )
    return PartQuery(columns(mode, specs), frm, where, e.c.id, bounds_from=e, bounds_where=[root])


# ---------------------------------------------------------------- groups.csv (§2.7)


def groups_file(ctx: RunContext, sis: bool) -> PartQuery:
    mode = mode_of(ctx, sis)
    g = groups
    category = named_alias(group_categories, "category")
    base = g.outerjoin(category, category.c.id == g.c.group_category_id)
    frm, acct, course = context_joins(base, g.c.context_type, g.c.context_id)
    specs: list[ColSpec] = [
        ("canvas_group_id", g.c.id, None, PROV),
        ("group_id", g.c.sis_source_id, None, BOTH),
        ("canvas_group_category_id", g.c.group_category_id, None, PROV),
        ("group_category_id", category.c.sis_source_id, None, BOTH),
        ("canvas_account_id", acct.c.id, None, PROV),
        ("account_id", root_sis(ctx, acct), None, BOTH),
        ("canvas_course_id", course.c.id, None, PROV),
        ("course_id", course.c.sis_source_id, None, BOTH),
        ("name", g.c.name, None, BOTH),
        ("status", g.c.workflow_state, None, BOTH),
        ("created_by_sis", sql_present(g.c.sis_batch_id), None, PROV),
        ("context_id", g.c.context_id, None, PROV),
        ("context_type", g.c.context_type, None, PROV),
        ("max_membership", g.c.max_membership, None, PROV),
    ]
    root = g.c.root_account_id == ctx.root_account_id
    where = [
        root,
        *sis_filters(mode, present(g.c.sis_source_id), g.c.sis_batch_id),
        *deleted_or(mode, g.c.workflow_state, present(g.c.sis_source_id)),
        *context_scope(ctx, g.c.context_type, g.c.context_id, course),
    ]
    return PartQuery(columns(mode, specs), frm, where, g.c.id, bounds_from=g, bounds_where=[root])


# ---------------------------------------------------------------- group_categories.csv (§2.8)


def group_categories_file(ctx: RunContext, sis: bool) -> PartQuery:
    mode = mode_of(ctx, sis)
    gc = group_categories
    frm, acct, course = context_joins(gc, gc.c.context_type, gc.c.context_id)
    status = case((present(gc.c.deleted_at), "deleted"), else_="active")
    specs: list[ColSpec] = [
        ("canvas_group_category_id", gc.c.id, None, PROV),
        ("group_category_id", gc.c.sis_source_id, None, BOTH),
        ("account_id", root_sis(ctx, acct), None, SIS),
        ("course_id", course.c.sis_source_id, None, SIS),
        ("context_id", gc.c.context_id, None, PROV),
        ("context_type", gc.c.context_type, None, PROV),
        ("category_name", gc.c.name, None, SIS),
        ("name", gc.c.name, None, PROV),
        ("role", gc.c.role, None, PROV),
        ("self_signup", gc.c.self_signup, None, PROV),
        ("group_limit", gc.c.group_limit, None, PROV),
        ("auto_leader", gc.c.auto_leader, None, PROV),
        ("status", status, None, BOTH),
    ]
    root = gc.c.root_account_id == ctx.root_account_id
    # SIS mode keeps categories created by SIS; created_by_sis itself is ignored here.
    where = [root, *context_scope(ctx, gc.c.context_type, gc.c.context_id, course)]
    if mode.sis:
        where.append(present(gc.c.sis_batch_id))
    if not mode.include_deleted:
        where.append(gc.c.deleted_at.is_(None))
    return PartQuery(columns(mode, specs), frm, where, gc.c.id, bounds_from=gc, bounds_where=[root])


# ---------------------------------------------------------------- group_membership.csv (§2.9)


def group_membership_file(ctx: RunContext, sis: bool) -> PartQuery:
    mode = mode_of(ctx, sis)
    gm = group_memberships
    g = named_alias(groups, "grp")
    login, login_on = chosen_login(ctx, mode, gm.c.user_id, name="member_login")
    base = gm.join(g, g.c.id == gm.c.group_id).join(login, login_on)
    frm, _acct, course = context_joins(base, g.c.context_type, g.c.context_id)
    specs: list[ColSpec] = [
        ("canvas_group_id", g.c.id, None, PROV),
        ("group_id", g.c.sis_source_id, None, BOTH),
        ("canvas_user_id", gm.c.user_id, None, PROV),
        ("user_id", login.c.sis_user_id, None, BOTH),
        ("status", gm.c.workflow_state, None, BOTH),
        ("created_by_sis", sql_present(gm.c.sis_batch_id), None, PROV),
    ]
    live = and_(g.c.workflow_state != "deleted", gm.c.workflow_state != "deleted")
    where = [
        g.c.root_account_id == ctx.root_account_id,
        *no_test_student(gm.c.user_id),
        *sis_filters(mode, present(gm.c.sis_batch_id), gm.c.sis_batch_id),
        or_(live, present(gm.c.sis_batch_id)) if mode.include_deleted else live,
        *context_scope(ctx, g.c.context_type, g.c.context_id, course),
    ]
    root_groups = select(groups.c.id).where(groups.c.root_account_id == ctx.root_account_id)
    return PartQuery(
        columns(mode, specs),
        frm,
        where,
        gm.c.id,
        bounds_from=gm,
        bounds_where=[gm.c.group_id.in_(root_groups)],
    )


# ---------------------------------------------------------------- xlist.csv (§2.10)


def xlist_file(ctx: RunContext, sis: bool) -> PartQuery:
    mode = mode_of(ctx, sis)
    s = course_sections
    course = named_alias(courses, "current_course")
    original = named_alias(courses, "original_course")
    specs: list[ColSpec] = [
        ("canvas_xlist_course_id", course.c.id, None, PROV),
        ("xlist_course_id", course.c.sis_source_id, None, BOTH),
        ("canvas_section_id", s.c.id, None, PROV),
        ("section_id", s.c.sis_source_id, None, BOTH),
        ("status", s.c.workflow_state, None, BOTH),
        ("canvas_nonxlist_course_id", original.c.id, None, PROV),
        ("nonxlist_course_id", original.c.sis_source_id, None, PROV),
    ]
    root = s.c.root_account_id == ctx.root_account_id
    both_sis = and_(present(course.c.sis_source_id), present(s.c.sis_source_id))
    where = [
        root,
        present(s.c.nonxlist_course_id),
        *sis_filters(mode, both_sis, s.c.sis_batch_id),
    ]
    if mode.include_deleted:
        live = and_(course.c.workflow_state != "deleted", s.c.workflow_state != "deleted")
        where.append(or_(live, both_sis))
    else:
        where += [
            course.c.workflow_state.not_in(["deleted", "completed"]),
            s.c.workflow_state != "deleted",
        ]
    where += account_scope(ctx, course.c.account_id)
    where += term_scope(ctx, course.c.enrollment_term_id)
    frm = s.join(course, course.c.id == s.c.course_id).join(
        original, original.c.id == s.c.nonxlist_course_id
    )
    return PartQuery(columns(mode, specs), frm, where, s.c.id, bounds_from=s, bounds_where=[root])


# ---------------------------------------------------------------- user_observers.csv (§2.11)


def _root_login(ctx: RunContext, name: str, user_col: ColumnElement[Any]) -> tuple[Any, Any]:
    login = named_alias(pseudonyms, name)
    on = and_(
        login.c.user_id == user_col,
        login.c.account_id == ctx.root_account_id,
        ~login.c.is_inst_id,
    )
    return login, on


def user_observers_file(ctx: RunContext, sis: bool) -> PartQuery:
    mode = mode_of(ctx, sis)
    uo = user_observers
    student, student_on = _root_login(ctx, "student_login", uo.c.user_id)
    observer, observer_on = _root_login(ctx, "observer_login", uo.c.observer_id)
    specs: list[ColSpec] = [
        ("canvas_observer_id", uo.c.observer_id, None, PROV),
        ("observer_id", observer.c.sis_user_id, None, BOTH),
        ("canvas_student_id", uo.c.user_id, None, PROV),
        ("student_id", student.c.sis_user_id, None, BOTH),
        ("status", uo.c.workflow_state, None, BOTH),
        ("created_by_sis", sql_present(uo.c.sis_batch_id), None, PROV),
    ]
    root = uo.c.root_account_id == ctx.root_account_id
    where = [root, *sis_filters(mode, present(uo.c.sis_batch_id), uo.c.sis_batch_id)]
    if not mode.include_deleted:
        where += [student.c.workflow_state != "deleted", uo.c.workflow_state != "deleted"]
    where += user_scope(ctx, uo.c.user_id)
    frm = uo.join(student, student_on).join(observer, observer_on)
    return PartQuery(
        columns(mode, specs),
        frm,
        where,
        uo.c.id,
        bounds_from=uo,
        bounds_where=[root],
        then_by=(student.c.id, observer.c.id),
    )


# ---------------------------------------------------------------- admins.csv (§2.12)


def admins_file(ctx: RunContext, sis: bool) -> PartQuery:
    mode = mode_of(ctx, sis)
    au = account_users
    acct = named_alias(accounts, "admin_account")
    role = named_alias(roles, "role")
    user = named_alias(users, "admin_user")
    login, login_on = chosen_login(ctx, mode, au.c.user_id, name="admin_login")
    specs: list[ColSpec] = [
        ("admin_user_name", user.c.name, None, PROV),
        ("canvas_user_id", au.c.user_id, None, PROV),
        ("user_id", login.c.sis_user_id, None, BOTH),
        ("canvas_account_id", au.c.account_id, None, PROV),
        ("account_id", root_sis(ctx, acct), None, BOTH),
        ("role_id", au.c.role_id, None, BOTH),
        ("role", role.c.name, None, BOTH),
        ("status", au.c.workflow_state, None, BOTH),
        ("created_by_sis", sql_present(au.c.sis_batch_id), None, PROV),
    ]
    root = au.c.root_account_id == ctx.root_account_id
    # SIS mode keeps admins created by SIS; created_by_sis itself is ignored here.
    where = [root, *account_scope(ctx, au.c.account_id)]
    if mode.sis:
        where.append(present(au.c.sis_batch_id))
        # A blank account_id names the root account on import (Canvas's rule), so a role on a
        # sub-account without a SIS id cannot be written: re-importing the row would grant
        # the role on the root (issue #17). Such rows are left out; provisioning_csv lists
        # them with their canvas_account_id.
        where.append(or_(au.c.account_id == ctx.root_account_id, present(acct.c.sis_source_id)))
    if not mode.include_deleted:
        where.append(au.c.workflow_state != "deleted")
    frm = (
        au.join(acct, acct.c.id == au.c.account_id)
        .join(role, role.c.id == au.c.role_id)
        .join(user, user.c.id == au.c.user_id)
        .join(login, login_on)
    )
    return PartQuery(columns(mode, specs), frm, where, au.c.id, bounds_from=au, bounds_where=[root])


# ---------------------------------------------------------------- institutional tags (§2.13)


def institutional_tag_file(ctx: RunContext, sis: bool) -> PartQuery:
    """The ``institutional_tags`` feature is always off: the file is a single empty line."""
    a = accounts
    root = a.c.id == ctx.root_account_id
    return PartQuery([], a, [root], a.c.id, bounds_from=a, bounds_where=[root])


BUILDERS = {
    "users": users_file,
    "accounts": accounts_file,
    "terms": terms_file,
    "courses": courses_file,
    "sections": sections_file,
    "enrollments": enrollments_file,
    "groups": groups_file,
    "group_membership": group_membership_file,
    "group_categories": group_categories_file,
    "xlist": xlist_file,
    "user_observers": user_observers_file,
    "admins": admins_file,
    "institutional_tag_categories": institutional_tag_file,
    "institutional_tags": institutional_tag_file,
    "institutional_tag_associations": institutional_tag_file,
}
