"""Rows the tests make by hand: accounts, users and their logins, roles, admins, tokens.

Each factory inserts exactly the columns it names (the rest take the table's defaults) and
returns the new row's id; ``at`` is the row's ``created_at``/``updated_at`` (``T0`` unless told).
A whole institution comes from tests/runs/sample.py (``make_institution``) or the report tests'
builders; these are for the few people and accounts a test adds by name.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, insert

from reportcard.auth.tokens import create_token
from reportcard.db.tables import account_users, accounts, pseudonyms, roles, users
from tests.clocks import T0

__all__ = [
    "FAST",
    "add_account",
    "add_admin",
    "add_login",
    "add_lone_login",
    "add_person",
    "add_role",
    "add_user",
    "create_token",
    "login_values",
]


# Fast password hashes in tests (``hash_password(p, **FAST)``): a hash carries its own costs.
FAST = {"n": 2**10, "r": 8, "p": 1}


def _insert(conn: Connection, table: Table, values: dict[str, Any]) -> int:
    pk = conn.execute(insert(table).values(**values)).inserted_primary_key
    assert pk is not None
    return int(pk[0])


def add_account(
    conn: Connection,
    name: str,
    *,
    uuid: str,
    parent: int | None = None,
    root: int | None = None,
    sis: str | None = None,
    time_zone: str = "America/Denver",
    at: datetime = T0,
) -> int:
    """An active account; a root account when ``parent`` and ``root`` are not given."""
    values: dict[str, Any] = {
        "name": name,
        "workflow_state": "active",
        "uuid": uuid,
        "default_time_zone": time_zone,
        "can_add_pronouns": False,
        "created_at": at,
        "updated_at": at,
    }
    for column, value in (
        ("parent_account_id", parent),
        ("root_account_id", root),
        ("sis_source_id", sis),
    ):
        if value is not None:
            values[column] = value
    return _insert(conn, accounts, values)


def add_user(
    conn: Connection,
    name: str,
    *,
    uuid: str,
    sortable_name: str | None = None,
    at: datetime = T0,
) -> int:
    """A registered user (not a test student); ``sortable_name`` defaults to ``name``."""
    return _insert(
        conn,
        users,
        {
            "name": name,
            "sortable_name": name if sortable_name is None else sortable_name,
            "uuid": uuid,
            "workflow_state": "registered",
            "is_test_student": False,
            "created_at": at,
            "updated_at": at,
        },
    )


def login_values(
    user_id: int, account_id: int, unique_id: str, *, position: int = 1, at: datetime = T0
) -> dict[str, Any]:
    """The values of an active login (pseudonym), for ``add_login`` or a bulk insert."""
    return {
        "user_id": user_id,
        "account_id": account_id,
        "unique_id": unique_id,
        "workflow_state": "active",
        "position": position,
        "is_inst_id": False,
        "created_at": at,
        "updated_at": at,
    }


def add_login(
    conn: Connection,
    user_id: int,
    account_id: int,
    unique_id: str,
    *,
    position: int = 1,
    at: datetime = T0,
) -> int:
    """An active login of ``user_id`` in root account ``account_id``; returns the login's id."""
    return _insert(
        conn, pseudonyms, login_values(user_id, account_id, unique_id, position=position, at=at)
    )


def add_person(
    conn: Connection, name: str, login: str, root: int, *, uuid: str | None = None
) -> int:
    """A user with one login ``login`` in ``root``; returns the user's id."""
    uid = add_user(conn, name, uuid=f"uuid-{login}-{root}" if uuid is None else uuid)
    add_login(conn, uid, root, login)
    return uid


def add_lone_login(conn: Connection, unique_id: str) -> int:
    """A login ``unique_id`` of a user "Pat" in a root account of its own; the login's id."""
    uid = add_user(conn, "Pat", uuid=f"u-{unique_id}")
    root = add_account(conn, "Root", uuid=f"root-{unique_id}", time_zone="UTC")
    return add_login(conn, uid, root, unique_id)


def add_role(
    conn: Connection, name: str, root: int | None, permissions: str, *, built_in: bool = False
) -> int:
    """An active account role (``AccountMembership``) granting ``permissions``."""
    return _insert(
        conn,
        roles,
        {
            "root_account_id": root,
            "name": name,
            "base_role_type": "AccountMembership",
            "built_in": built_in,
            "workflow_state": "active",
            "permissions": permissions,
        },
    )


def add_admin(
    conn: Connection,
    user: int,
    account: int,
    root: int,
    role: int,
    *,
    at: datetime = T0,
    **values: Any,
) -> int:
    """An active admin: ``user`` holds ``role`` on ``account`` (``values``: more columns)."""
    return _insert(
        conn,
        account_users,
        {
            "root_account_id": root,
            "account_id": account,
            "user_id": user,
            "role_id": role,
            "workflow_state": "active",
            "created_at": at,
            "updated_at": at,
            **values,
        },
    )
