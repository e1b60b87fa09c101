"""The canonical setup of a root account, as Canvas makes one: shared by every data source.

``reportcard init`` (an empty institution for real data), ``reportcard seed`` (the synthetic
one) and the Canvas Data 2 importer all start a root account here, so that every root has what
Canvas gives a new root account:

* the ``accounts`` row, with a checked time zone (Rails or IANA name, see
  :mod:`reportcard.timezones`) and a uuid;
* its ``Default Term`` (``is_default``), which courses without a term belong to;
* the ``canvas`` authentication provider (logins with passwords);
* the built-in roles (student, teacher, TA, designer, observer enrollments and
  ``AccountAdmin``), which are shared by all root accounts (``root_account_id`` NULL);
* its ``account_ancestors`` row.

:func:`create_admin` adds a user with a login on the root holding ``AccountAdmin`` there.
Everything runs on the caller's connection, inside the caller's transaction.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, text

from reportcard.db.tables import (
    account_ancestors,
    account_users,
    accounts,
    authentication_providers,
    enrollment_terms,
    pseudonyms,
    roles,
    user_account_associations,
    users,
)
from reportcard.timezones import canonical_zone_name

__all__ = [
    "BUILTIN_ROLES",
    "DEFAULT_TERM_NAME",
    "AdminUser",
    "builtin_role_ids",
    "create_admin",
    "create_root_account",
    "ensure_builtin_roles",
    "find_root_account",
    "new_uuid",
]

# (name, base_role_type) of Canvas's built-in roles; AccountAdmin's empty permissions mean "all".
BUILTIN_ROLES: tuple[tuple[str, str], ...] = (
    ("StudentEnrollment", "StudentEnrollment"),
    ("TeacherEnrollment", "TeacherEnrollment"),
    ("TaEnrollment", "TaEnrollment"),
    ("DesignerEnrollment", "DesignerEnrollment"),
    ("ObserverEnrollment", "ObserverEnrollment"),
    ("AccountAdmin", "AccountMembership"),
)

DEFAULT_TERM_NAME = "Default Term"


def new_uuid() -> str:
    """A new Canvas-style uuid (40 random characters), as Canvas gives accounts and users."""
    return secrets.token_hex(20)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def builtin_role_ids(conn: Connection) -> dict[str, int]:
    """The built-in roles present (shared by all root accounts): name -> id."""
    r = roles.c
    rows = conn.execute(
        select(r.name, func.min(r.id))
        .where(r.built_in.is_(True), r.root_account_id.is_(None), r.workflow_state == "active")
        .group_by(r.name)
    ).all()
    return {str(name): int(rid) for name, rid in rows}


def ensure_builtin_roles(conn: Connection, root_id: int | None = None) -> dict[str, int]:
    """Create whichever built-in roles are missing; returns every built-in role: name -> id.

    Built-in roles are shared by all root accounts (``root_account_id`` NULL), so ``root_id``
    does not change what is created; it is accepted so callers can say which root they set up.
    Calling it again creates nothing.
    """
    del root_id  # shared roles: one set for every root account
    found = builtin_role_ids(conn)
    missing = [(name, base) for name, base in BUILTIN_ROLES if name not in found]
    for name, base in missing:
        rid = _insert(
            conn,
            insert(roles).values(
                root_account_id=None,
                account_id=None,
                name=name,
                base_role_type=base,
                built_in=True,
                workflow_state="active",
                permissions="",
            ),
        )
        found[name] = rid
    return found


def find_root_account(conn: Connection, name: str) -> int | None:
    """The id of the live root account called ``name`` (the oldest), or None."""
    a = accounts.c
    found = conn.execute(
        select(a.id)
        .where(a.root_account_id.is_(None), a.name == name, a.workflow_state != "deleted")
        .order_by(a.id)
        .limit(1)
    ).scalar()
    return None if found is None else int(found)


def create_root_account(
    conn: Connection,
    *,
    name: str,
    time_zone: str = "UTC",
    account_id: int | None = None,
    uuid: str | None = None,
    domain: str | None = None,
    sis_source_id: str | None = None,
    integration_id: str | None = None,
    workflow_state: str = "active",
    created_at: datetime | None = None,
    can_add_pronouns: bool = False,
    default_term_id: int | None = None,
    default_term_created_at: datetime | None = None,
    canvas_provider_id: int | None = None,
) -> int:
    """Create a root account with Canvas's defaults; returns its id.

    ``time_zone`` is a Rails or IANA name; it is stored as given (Canvas keeps the name it was
    given) once :func:`reportcard.timezones.canonical_zone_name` has accepted it, so an unknown
    zone raises :class:`reportcard.timezones.UnknownTimeZone` and writes nothing.
    ``account_id`` picks the id (the Canvas Data 2 importer keeps Canvas's ids); otherwise the
    database assigns one. ``default_term_id``, ``default_term_created_at`` and
    ``canvas_provider_id`` do the same for the Default Term and the canvas authentication
    provider (the synthetic generator decides every id and time itself).
    """
    name = name.strip()
    if not name:
        raise ValueError("a root account needs a name")
    canonical_zone_name(time_zone)
    zone = time_zone.strip()
    now = created_at or _now()
    values: dict[str, object] = {
        "name": name,
        "parent_account_id": None,
        "root_account_id": None,
        "workflow_state": workflow_state,
        "uuid": uuid or new_uuid(),
        "default_time_zone": zone,
        "domain": domain,
        "can_add_pronouns": can_add_pronouns,
        "created_at": now,
        "updated_at": now,
        "sis_source_id": sis_source_id,
        "integration_id": integration_id,
        "sis_batch_id": None,
    }
    if account_id is not None:
        values["id"] = account_id
    root_id = _insert(conn, insert(accounts).values(**values))
    conn.execute(insert(account_ancestors).values(account_id=root_id, ancestor_id=root_id, depth=0))
    term_created = default_term_created_at or now
    term: dict[str, object] = {
        "root_account_id": root_id,
        "name": DEFAULT_TERM_NAME,
        "workflow_state": "active",
        "start_at": None,
        "end_at": None,
        "is_default": True,
        "created_at": term_created,
        "updated_at": term_created,
        "sis_source_id": None,
        "integration_id": None,
        "sis_batch_id": None,
    }
    if default_term_id is not None:
        term["id"] = default_term_id
    conn.execute(insert(enrollment_terms).values(**term))
    provider: dict[str, object] = {
        "root_account_id": root_id,
        "auth_type": "canvas",
        "workflow_state": "active",
    }
    if canvas_provider_id is not None:
        provider["id"] = canvas_provider_id
    conn.execute(insert(authentication_providers).values(**provider))
    ensure_builtin_roles(conn, root_id)
    for table, explicit in (
        ("accounts", account_id),
        ("enrollment_terms", default_term_id),
        ("authentication_providers", canvas_provider_id),
    ):
        if explicit is not None:
            _fix_sequence(conn, table)
    return root_id


@dataclass(frozen=True)
class AdminUser:
    """What :func:`create_admin` made."""

    user_id: int
    pseudonym_id: int
    account_user_id: int


def create_admin(
    conn: Connection,
    root_id: int,
    *,
    login: str,
    name: str | None = None,
    time_zone: str | None = None,
    created_at: datetime | None = None,
) -> AdminUser:
    """A user with the login ``login`` on root account ``root_id``, AccountAdmin there."""
    login = login.strip()
    if not login:
        raise ValueError("the admin needs a login")
    if time_zone is not None:
        canonical_zone_name(time_zone)
        time_zone = time_zone.strip()
    now = created_at or _now()
    shown = (name or login).strip() or login
    user_id = _insert(
        conn,
        insert(users).values(
            name=shown,
            sortable_name=_sortable(shown),
            short_name=shown,
            pronouns=None,
            uuid=new_uuid(),
            time_zone=time_zone,
            workflow_state="registered",
            is_test_student=False,
            created_at=now,
            updated_at=now,
        ),
    )
    provider = conn.execute(
        select(authentication_providers.c.id)
        .where(
            authentication_providers.c.root_account_id == root_id,
            authentication_providers.c.auth_type == "canvas",
            authentication_providers.c.workflow_state == "active",
        )
        .order_by(authentication_providers.c.id)
        .limit(1)
    ).scalar()
    pseudonym_id = _insert(
        conn,
        insert(pseudonyms).values(
            user_id=user_id,
            account_id=root_id,
            unique_id=login,
            sis_user_id=None,
            integration_id=None,
            authentication_provider_id=provider,
            workflow_state="active",
            position=1,
            is_inst_id=False,
            password_hash=None,
            sis_batch_id=None,
            created_at=now,
            updated_at=now,
        ),
    )
    admin_role = ensure_builtin_roles(conn, root_id)["AccountAdmin"]
    account_user_id = _insert(
        conn,
        insert(account_users).values(
            root_account_id=root_id,
            account_id=root_id,
            user_id=user_id,
            role_id=admin_role,
            workflow_state="active",
            sis_batch_id=None,
            created_at=now,
            updated_at=now,
        ),
    )
    conn.execute(insert(user_account_associations).values(user_id=user_id, account_id=root_id))
    return AdminUser(user_id, pseudonym_id, account_user_id)


def _insert(conn: Connection, stmt: Any) -> int:
    """Run an INSERT of one row; returns the new row's id."""
    key = conn.execute(stmt).inserted_primary_key
    assert key is not None
    return int(key[0])


def _sortable(name: str) -> str:
    """Canvas's default sortable name: ``Last, First`` from ``First Last``."""
    parts = name.rsplit(" ", 1)
    return name if len(parts) == 1 else f"{parts[1]}, {parts[0]}"


def _fix_sequence(conn: Connection, table: str) -> None:
    """After inserting an explicit id on PostgreSQL, move the id sequence past it."""
    if conn.dialect.name != "postgresql":
        return
    conn.execute(
        text(f"SELECT setval(pg_get_serial_sequence(:t, 'id'), (SELECT MAX(id) FROM {table}))"),
        {"t": table},
    )
