"""Who may do what: ``read_reports`` through an active admin role on an account's chain."""

from __future__ import annotations

from sqlalchemy import Connection, and_, bindparam, exists, or_, select

from reportcard.db.tables import account_ancestors, account_users, accounts, roles

READ_REPORTS = "read_reports"
IMPORT_SIS_DATA = "import_sis_data"


def _permission_query():  # type: ignore[no-untyped-def]
    """Built once: does :user hold :permission on :account or an ancestor?"""
    chain = select(account_ancestors.c.ancestor_id).where(
        account_ancestors.c.account_id == bindparam("account")
    )
    padded = " " + roles.c.permissions + " "
    grants = and_(
        roles.c.workflow_state == "active",
        or_(
            and_(roles.c.built_in.is_(True), roles.c.name == "AccountAdmin"),
            padded.like(bindparam("pattern")),
        ),
    )
    return select(
        exists()
        .select_from(account_users.join(roles, roles.c.id == account_users.c.role_id))
        .where(
            account_users.c.user_id == bindparam("user"),
            account_users.c.workflow_state == "active",
            account_users.c.account_id.in_(chain),
            grants,
        )
    )


_PERMISSION = _permission_query()


def has_permission(conn: Connection, user_id: int, account_id: int, permission: str) -> bool:
    """True when ``user_id`` holds ``permission`` on ``account_id`` or any of its ancestors."""
    params = {"user": user_id, "account": account_id, "pattern": f"% {permission} %"}
    return bool(conn.execute(_PERMISSION, params).scalar())


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
