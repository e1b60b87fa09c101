"""Integration reports: ``user_access_tokens_csv``, ``lti_report_csv``,
``developer_key_report_csv`` (spec ``other-reports.md`` §4.14-§4.16).

reportcard's own API tokens (``access_tokens``) are the user access tokens reported here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, literal, or_, select

from reportcard.db.activity_tables import (
    context_external_tools,
    developer_key_account_bindings,
    developer_keys,
)
from reportcard.db.tables import access_tokens, accounts, courses, pseudonyms, users
from reportcard.reports.aliases import named_alias
from reportcard.reports.basics import (
    include_deleted_text,
    json_value,
    raw_utc,
    ruby_inspect,
    single_file,
    time_or,
    token_hint,
)
from reportcard.reports.catalog import Col, Parameter, PartQuery, RunContext
from reportcard.reports.sis_scope import subtree, user_scope

INCLUDE_DELETED = "include_deleted"

# The name Canvas gives its built-in key for tokens users make themselves; reportcard's API
# tokens (developer_key_id NULL) are such tokens.
USER_GENERATED = "User-Generated"

# developer key global ids, as Canvas writes them for keys on its first shard.
GLOBAL_ID_BASE = 10_000_000_000_000

# ---------------------------------------------------------------- user_access_tokens_csv (§4.14)


def user_access_tokens(ctx: RunContext) -> PartQuery:
    t, u = access_tokens, users
    key = named_alias(developer_keys, "token_key")
    login = named_alias(pseudonyms, "login")
    login_cond = [login.c.user_id == t.c.user_id, login.c.account_id == ctx.root_account_id]
    if not ctx.flag(INCLUDE_DELETED):
        login_cond.append(login.c.workflow_state != "deleted")
    key_name = case((t.c.developer_key_id.is_(None), literal(USER_GENERATED)), else_=key.c.name)
    never = time_or(ctx, "never")
    cols = [
        Col("user id", t.c.user_id),
        Col("user name", u.c.sortable_name, commas=True),
        Col("token hint", t.c.hint, token_hint),
        Col("expiration", t.c.expires_at, never),
        Col("last used", t.c.last_used_at, never),
        Col("dev key id", t.c.developer_key_id),
        Col("dev key name", key_name),
    ]
    has_login = exists().where(*login_cond).correlate_except(login)
    where = [t.c.workflow_state != "deleted", has_login, *user_scope(ctx, t.c.user_id)]
    frm = t.join(u, u.c.id == t.c.user_id).outerjoin(key, key.c.id == t.c.developer_key_id)
    # Never-used tokens first within a user, as PostgreSQL sorts NULLs in a descending order.
    return PartQuery(
        cols,
        frm,
        where,
        t.c.user_id,
        bounds_from=t,
        bounds_where=[t.c.workflow_state != "deleted"],
        then_by=[t.c.last_used_at.desc().nulls_first(), t.c.id],
    )


single_file(
    "user_access_tokens_csv",
    "User Access Tokens",
    "The access tokens of the account's users: hint, expiry, last use and the developer key "
    "that issued them.",
    {INCLUDE_DELETED: Parameter("Include users whose logins are deleted")},
    user_access_tokens,
    lambda ctx: [include_deleted_text(ctx)],
)


# ---------------------------------------------------------------- lti_report_csv (§4.15)


def custom_fields(value: Any) -> str | None:
    """The custom fields hash in Ruby's inspect form; blank when none is stored.

    Canvas writes the stored hash as it is (``settings[:custom_fields]``): an empty hash,
    which a tool saved with an empty custom fields text gets, is ``{}``.
    """
    fields = json_value(value)
    return None if fields is None else ruby_inspect(fields)


def lti_tools(ctx: RunContext) -> PartQuery:
    tool = context_external_tools
    acct = named_alias(accounts, "tool_account")
    course = named_alias(courses, "tool_course")
    course_acct = named_alias(accounts, "course_account")
    in_account = tool.c.context_type == "Account"
    in_course = tool.c.context_type == "Course"
    frm = (
        tool.outerjoin(acct, and_(in_account, acct.c.id == tool.c.context_id))
        .outerjoin(course, and_(in_course, course.c.id == tool.c.context_id))
        .outerjoin(course_acct, course_acct.c.id == course.c.account_id)
    )
    if ctx.is_root:
        root = ctx.root_account_id
        account_ok = or_(acct.c.root_account_id == root, acct.c.id == root)
        course_ok = course.c.root_account_id == root
    else:
        account_ok = acct.c.id.in_(subtree(ctx.account_id))
        course_ok = course.c.account_id.in_(subtree(ctx.account_id))
    where: list[ColumnElement[bool]] = [
        tool.c.root_account_id == ctx.root_account_id,
        or_(and_(in_account, account_ok), and_(in_course, course_ok)),
    ]
    if not ctx.flag(INCLUDE_DELETED):
        where += [
            # Canvas's ContextExternalTool.active: neither deleted nor disabled.
            tool.c.workflow_state.not_in(("deleted", "disabled")),
            or_(
                and_(in_account, acct.c.workflow_state != "deleted"),
                and_(
                    in_course,
                    course.c.workflow_state != "deleted",
                    course_acct.c.workflow_state != "deleted",
                ),
            ),
        ]
    cols = [
        Col("context_type", tool.c.context_type),
        Col("context_id", tool.c.context_id),
        Col("account_name", acct.c.name),
        Col("course_name", course.c.name),
        Col("tool_id", tool.c.id),
        Col("tool_type_name", tool.c.name),
        Col("tool_type_id", tool.c.tool_id),
        Col("tool_created_at", tool.c.created_at, raw_utc),
        Col("privacy_level", tool.c.privacy_level),
        Col("launch_url", tool.c.url),
        Col("custom_fields", tool.c.custom_fields, custom_fields),
    ]
    root_tools = tool.c.root_account_id == ctx.root_account_id
    return PartQuery(cols, frm, where, tool.c.id, bounds_from=tool, bounds_where=[root_tools])


single_file(
    "lti_report_csv",
    "LTI Report",
    "The external (LTI) tools installed in the account, its sub-accounts and their courses.",
    {
        INCLUDE_DELETED: Parameter(
            "Include deleted tools, and tools in deleted courses and accounts"
        )
    },
    lti_tools,
    lambda ctx: [include_deleted_text(ctx)],
)


# ---------------------------------------------------------------- developer_key_report_csv


def placements(value: Any) -> str:
    """The tool configuration's placements as an inspected array; ``None`` without one or
    when it has none (Canvas writes ``placements.presence || "None"``: an empty array is not
    present)."""
    names = json_value(value)
    return ruby_inspect(names) if names else "None"


def scopes(value: Any) -> str:
    """The key's API scopes as an inspected array; ``All`` when it is not scoped."""
    names = json_value(value)
    return ruby_inspect(names) if names else "All"


def _binding_state(key: Any, account_id: int | None) -> ColumnElement[Any]:
    """The state of the key's binding to ``account_id`` (None: the site-admin binding)."""
    b = named_alias(
        developer_key_account_bindings, "site_binding" if account_id is None else "binding"
    )
    own = b.c.account_id.is_(None) if account_id is None else b.c.account_id == account_id
    return (
        select(b.c.workflow_state)
        .where(b.c.developer_key_id == key.c.id, own)
        .correlate_except(b)
        .scalar_subquery()
    )


def developer_key_status(ctx: RunContext, key: Any) -> ColumnElement[Any]:
    """``On``/``Off``/``Allow`` for the report account.

    A site-admin key set on or off at site admin is that everywhere; otherwise (and for the
    account's own keys) the binding to the report account decides, ``Allow`` without one.
    """
    here = func.coalesce(_binding_state(key, ctx.account_id), "allow")
    site = _binding_state(key, None)
    state = case(
        (and_(key.c.account_id.is_(None), site.in_(["on", "off"])), site),
        else_=here,
    )
    return case(
        (state == "on", literal("On")),
        (state == "off", literal("Off")),
        (state == "allow", literal("Allow")),
        else_=state,
    )


def developer_key_rows(ctx: RunContext) -> PartQuery:
    key = developer_keys
    site_admin = key.c.account_id.is_(None)
    owned = key.c.account_id == ctx.account_id
    # The account's own keys (visible or not) first, then the visible site-admin keys.
    order = key.c.id + case((site_admin, GLOBAL_ID_BASE), else_=0)
    inherited = case((owned, literal("false")), else_=literal("true"))
    key_type = case((key.c.is_lti_key, literal("LTI Key")), else_=literal("API Key"))
    cols = [
        Col("Global ID", key.c.id + GLOBAL_ID_BASE),
        Col("Key Name", key.c.name),
        Col("Inherited from Parent Account", inherited),
        Col("Contact Info", key.c.email),
        Col("Key Type", key_type),
        Col("Placements", key.c.placements, placements),
        Col("Status", developer_key_status(ctx, key)),
        Col("Permitted API Endpoints", key.c.scopes, scopes),
    ]
    where = [key.c.workflow_state != "deleted", or_(owned, and_(site_admin, key.c.visible))]
    return PartQuery(cols, key, where, order)


single_file(
    "developer_key_report_csv",
    "Developer Keys Report",
    "The developer keys (API and LTI) available to the account: its own keys and the visible "
    "site-admin keys, with their status and permitted endpoints.",
    {},
    developer_key_rows,
    lambda ctx: [],
)
