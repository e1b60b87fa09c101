"""Who may do what: ``read_reports`` through an active admin role on an account's chain."""

from __future__ import annotations

import re

from sqlalchemy import (
    ColumnElement,
    Connection,
    String,
    and_,
    bindparam,
    exists,
    literal_column,
    or_,
    select,
)

from reportcard.db.tables import account_ancestors, account_users, accounts, roles

READ_REPORTS = "read_reports"
IMPORT_SIS_DATA = "import_sis_data"


def grants(permission: str) -> ColumnElement[bool]:
    """An active role that is AccountAdmin or lists ``permission``.

    The LIKE pattern is a literal, not a bound parameter: SQLite re-prepares a statement whose
    LIKE operand is bound every time it runs (a tenth of a millisecond for the status query).
    """
    if not _NAME.fullmatch(permission):
        raise ValueError(f"not a permission name: {permission!r}")
    space = literal_column("' '", String)
    padded = space + roles.c.permissions + space
    return and_(
        roles.c.workflow_state == literal_column("'active'", String),
        or_(
            and_(
                roles.c.built_in.is_(True),
                roles.c.name == literal_column("'AccountAdmin'", String),
            ),
            padded.like(literal_column(f"'% {permission} %'", String)),
        ),
    )


def _permission_query(permission: str):  # type: ignore[no-untyped-def]
    """Built once: does :user hold :permission on :account or an ancestor?

    A join through the ancestor closure, not ``account_id IN (subquery)``: SQLite builds an
    ephemeral table for every IN-list subquery, which cost the status poll ten times its time.
    """
    return select(
        exists()
        .select_from(
            account_ancestors.join(
                account_users, account_users.c.account_id == account_ancestors.c.ancestor_id
            ).join(roles, roles.c.id == account_users.c.role_id)
        )
        .where(
            account_ancestors.c.account_id == bindparam("account"),
            account_users.c.user_id == bindparam("user"),
            account_users.c.workflow_state == literal_column("'active'", String),
            grants(permission),
        )
    )


_NAME = re.compile(r"[a-z_]{1,64}")
_PERMISSION = {p: _permission_query(p) for p in (READ_REPORTS, IMPORT_SIS_DATA)}


def has_permission(conn: Connection, user_id: int, account_id: int, permission: str) -> bool:
    """True when ``user_id`` holds ``permission`` on ``account_id`` or any of its ancestors."""
    stmt = _PERMISSION.get(permission)
    if stmt is None:
        stmt = _PERMISSION[permission] = _permission_query(permission)
    return bool(conn.execute(stmt, {"user": user_id, "account": account_id}).scalar())


def admin_account_ids(conn: Connection, user_id: int) -> list[int]:
    """Accounts where the user holds an active admin role (directly), ordered by id."""
    rows = conn.execute(
        select(account_users.c.account_id)
        .join(accounts, accounts.c.id == account_users.c.account_id)
        .where(
            account_users.c.user_id == user_id,
            account_users.c.workflow_state == "active",
            accounts.c.workflow_state != "deleted",
        )
        .distinct()
        .order_by(account_users.c.account_id)
    ).scalars()
    return [int(r) for r in rows]
