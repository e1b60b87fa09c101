"""Row generators: turn a :class:`~.model.Plan` into the rows of each table, lazily.

Rows are plain tuples in the column order given next to each generator. Timestamps are
preformatted strings (see :mod:`.clock`), booleans are ``bool``, ids are ints.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from . import build_enrollments, build_users
from .clock import ANCHOR, ts
from .model import Plan

Row = tuple[Any, ...]


@dataclass(frozen=True)
class TableRows:
    """The rows of one table: consumed once, in chunks, by the loader."""

    table: str
    columns: tuple[str, ...]
    rows: Iterable[Row]
    estimate: int  # expected row count (exact for every table but enrollments)


def _batch(plan: Plan, index: int | None) -> int | None:
    return None if index is None else plan.ids("sis_batches", index)


def _dt(value: datetime | None) -> str | None:
    return None if value is None else ts(value)


def root_uuid(plan: Plan) -> str:
    """The root account's uuid: the first the accounts' uuid source gives."""
    return f"{build_users.uuid_source(plan, 'accounts').getrandbits(160):040x}"


def accounts(plan: Plan) -> Iterator[Row]:
    """The sub-accounts (the root itself is made by ``institution.create_root_account``)."""
    root = plan.root_id
    getrandbits = build_users.uuid_source(plan, "accounts").getrandbits
    for i, a in enumerate(plan.accounts):
        uuid = f"{getrandbits(160):040x}"  # drawn for the root too, so the others stay the same
        if i == 0:
            continue
        yield (
            plan.ids("accounts", i),
            a.name,
            None if a.parent is None else plan.ids("accounts", a.parent),
            None if i == 0 else root,
            a.state,
            uuid,
            plan.time_zone,
            plan.domain if i == 0 else None,
            i == 0,
            a.created,
            a.created,
            a.sis,
            None,
            _batch(plan, a.batch),
        )


ACCOUNT_COLUMNS = (
    "id",
    "name",
    "parent_account_id",
    "root_account_id",
    "workflow_state",
    "uuid",
    "default_time_zone",
    "domain",
    "can_add_pronouns",
    "created_at",
    "updated_at",
    "sis_source_id",
    "integration_id",
    "sis_batch_id",
)

# (auth_type, workflow_state); the second one is the SAML provider SIS logins use.
PROVIDERS = (("canvas", "active"), ("saml", "active"), ("ldap", "deleted"))


def providers(plan: Plan) -> Iterator[Row]:
    """The providers but the first (canvas), which ``create_root_account`` makes."""
    for i, (auth_type, state) in enumerate(PROVIDERS):
        if i > 0:
            yield (plan.ids("authentication_providers", i), plan.root_id, auth_type, state)


def batches(plan: Plan) -> Iterator[Row]:
    for i, (state, created) in enumerate(plan.batches):
        yield (plan.ids("sis_batches", i), plan.root_id, state, created)


def terms(plan: Plan) -> Iterator[Row]:
    """The terms but the first (the Default Term), which ``create_root_account`` makes."""
    for i, t in enumerate(plan.terms):
        if i == 0:
            continue
        yield (
            plan.ids("enrollment_terms", i),
            plan.root_id,
            t.name,
            t.state,
            _dt(t.start),
            _dt(t.end),
            t.kind == "default",
            t.created,
            t.created,
            t.sis,
            None,
            _batch(plan, t.batch),
        )


TERM_COLUMNS = (
    "id",
    "root_account_id",
    "name",
    "workflow_state",
    "start_at",
    "end_at",
    "is_default",
    "created_at",
    "updated_at",
    "sis_source_id",
    "integration_id",
    "sis_batch_id",
)


def roles(plan: Plan) -> Iterator[Row]:
    """New role rows: missing built-ins (shared, no account) and this root's custom roles."""
    for name, base, built_in, permissions in plan.new_roles:
        owner = None if built_in else plan.root_id
        yield (plan.role_ids[name], owner, owner, name, base, built_in, "active", permissions)


ROLE_COLUMNS = (
    "id",
    "root_account_id",
    "account_id",
    "name",
    "base_role_type",
    "built_in",
    "workflow_state",
    "permissions",
)


def courses(plan: Plan) -> Iterator[Row]:
    for i, c in enumerate(plan.courses):
        yield (
            plan.ids("courses", i),
            plan.root_id,
            plan.ids("accounts", c.account),
            plan.ids("enrollment_terms", c.term),
            c.name,
            c.code,
            c.state,
            c.course_format,
            c.start,
            c.end,
            c.restrict,
            c.public,
            c.created,
            c.updated,
            c.sis,
            c.integration,
            _batch(plan, c.batch),
        )


COURSE_COLUMNS = (
    "id",
    "root_account_id",
    "account_id",
    "enrollment_term_id",
    "name",
    "course_code",
    "workflow_state",
    "course_format",
    "start_at",
    "conclude_at",
    "restrict_enrollments_to_course_dates",
    "is_public",
    "created_at",
    "updated_at",
    "sis_source_id",
    "integration_id",
    "sis_batch_id",
)


def blueprints(plan: Plan) -> Iterator[Row]:
    for i, (bp, child, state) in enumerate(plan.blueprints):
        yield (
            plan.ids("blueprint_subscriptions", i),
            plan.ids("courses", bp),
            plan.ids("courses", child),
            state,
        )


def sections(plan: Plan) -> Iterator[Row]:
    for i, s in enumerate(plan.sections):
        crosslisted = s.current != s.course
        yield (
            plan.ids("course_sections", i),
            plan.root_id,
            plan.ids("courses", s.current),
            plan.ids("courses", s.course) if crosslisted else None,
            s.name,
            s.state,
            s.start,
            s.end,
            s.restrict,
            s.default,
            s.created,
            s.created,
            s.sis,
            s.integration,
            _batch(plan, s.batch),
        )


SECTION_COLUMNS = (
    "id",
    "root_account_id",
    "course_id",
    "nonxlist_course_id",
    "name",
    "workflow_state",
    "start_at",
    "end_at",
    "restrict_enrollments_to_section_dates",
    "default_section",
    "created_at",
    "updated_at",
    "sis_source_id",
    "integration_id",
    "sis_batch_id",
)


def admins(plan: Plan) -> Iterator[Row]:
    for i, a in enumerate(plan.admins):
        yield (
            plan.ids("account_users", i),
            plan.root_id,
            plan.ids("accounts", a.account),
            plan.ids("users", a.user),
            plan.role_ids[a.role],
            a.state,
            _batch(plan, a.batch),
            a.created,
            a.created,
        )


ADMIN_COLUMNS = (
    "id",
    "root_account_id",
    "account_id",
    "user_id",
    "role_id",
    "workflow_state",
    "sis_batch_id",
    "created_at",
    "updated_at",
)


def _context_id(plan: Plan, context_type: str, index: int) -> int:
    return plan.ids("accounts" if context_type == "Account" else "courses", index)


def categories(plan: Plan) -> Iterator[Row]:
    for i, g in enumerate(plan.categories):
        deleted_at = max(g.created, ts(ANCHOR - timedelta(days=20)))  # same format: text order
        yield (
            plan.ids("group_categories", i),
            plan.root_id,
            g.context_type,
            _context_id(plan, g.context_type, g.context),
            g.name,
            g.role,
            g.self_signup,
            g.group_limit,
            g.auto_leader,
            deleted_at if g.deleted else None,
            g.sis,
            _batch(plan, g.batch),
            g.created,
            deleted_at if g.deleted else g.created,
        )


CATEGORY_COLUMNS = (
    "id",
    "root_account_id",
    "context_type",
    "context_id",
    "name",
    "role",
    "self_signup",
    "group_limit",
    "auto_leader",
    "deleted_at",
    "sis_source_id",
    "sis_batch_id",
    "created_at",
    "updated_at",
)


def groups(plan: Plan) -> Iterator[Row]:
    for i, g in enumerate(plan.groups):
        yield (
            plan.ids("groups", i),
            plan.root_id,
            plan.ids("group_categories", g.category),
            g.context_type,
            _context_id(plan, g.context_type, g.context),
            plan.ids("accounts", g.account),
            g.name,
            g.state,
            g.max_membership,
            g.sis,
            _batch(plan, g.batch),
            g.created,
            g.created,
        )


GROUP_COLUMNS = (
    "id",
    "root_account_id",
    "group_category_id",
    "context_type",
    "context_id",
    "account_id",
    "name",
    "workflow_state",
    "max_membership",
    "sis_source_id",
    "sis_batch_id",
    "created_at",
    "updated_at",
)


def memberships(plan: Plan) -> Iterator[Row]:
    mid = plan.ids("group_memberships", 0)
    user_base = plan.ids("users", 0)
    for i, g in enumerate(plan.groups):
        gid, batch = plan.ids("groups", i), _batch(plan, g.batch)
        for user, state in g.members:
            yield (mid, gid, user_base + user, state, batch, g.created, g.created)
            mid += 1


MEMBERSHIP_COLUMNS = (
    "id",
    "group_id",
    "user_id",
    "workflow_state",
    "sis_batch_id",
    "created_at",
    "updated_at",
)


def tables(plan: Plan) -> list[TableRows]:
    """Every table's rows, in load order (see :data:`.model.TABLES`)."""
    saml = plan.ids("authentication_providers", 1)
    p = plan
    return [
        TableRows("accounts", ACCOUNT_COLUMNS, accounts(p), len(p.accounts) - 1),
        TableRows(
            "authentication_providers",
            ("id", "root_account_id", "auth_type", "workflow_state"),
            providers(p),
            len(PROVIDERS) - 1,
        ),
        TableRows(
            "sis_batches",
            ("id", "account_id", "workflow_state", "created_at"),
            batches(p),
            len(p.batches),
        ),
        TableRows("enrollment_terms", TERM_COLUMNS, terms(p), len(p.terms) - 1),
        TableRows("roles", ROLE_COLUMNS, roles(p), len(p.new_roles)),
        TableRows("courses", COURSE_COLUMNS, courses(p), len(p.courses)),
        TableRows(
            "blueprint_subscriptions",
            ("id", "blueprint_course_id", "child_course_id", "workflow_state"),
            blueprints(p),
            len(p.blueprints),
        ),
        TableRows("course_sections", SECTION_COLUMNS, sections(p), len(p.sections)),
        TableRows("users", build_users.USER_COLUMNS, build_users.users(p), len(p.flags)),
        TableRows(
            "pseudonyms",
            build_users.LOGIN_COLUMNS,
            build_users.logins(p, saml),
            build_users.login_count(p),
        ),
        TableRows(
            "communication_channels",
            build_users.CHANNEL_COLUMNS,
            build_users.channels(p),
            build_users.channel_count(p),
        ),
        TableRows(
            "user_observers",
            build_users.OBSERVER_COLUMNS,
            build_users.observer_links(p),
            len(p.observer_links),
        ),
        TableRows("account_users", ADMIN_COLUMNS, admins(p), len(p.admins)),
        TableRows(
            "enrollments",
            build_enrollments.COLUMNS,
            build_enrollments.rows(p),
            build_enrollments.estimate(p),
        ),
        TableRows("group_categories", CATEGORY_COLUMNS, categories(p), len(p.categories)),
        TableRows("groups", GROUP_COLUMNS, groups(p), len(p.groups)),
        TableRows(
            "group_memberships",
            MEMBERSHIP_COLUMNS,
            memberships(p),
            sum(len(g.members) for g in p.groups),
        ),
    ]
