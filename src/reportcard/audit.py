"""Recording and reading the audit log (table ``audit_events``).

``record`` is the only writer: it inserts one row in the caller's transaction (so an audited
action and its event commit or roll back together). Nothing updates or deletes events.

Actions recorded (``action`` column):

- ``report.start``, ``report.download``, ``report.abort``, ``report.delete``
- ``sis_import.create``, ``sis_import.abort``
- ``token.create``, ``token.revoke``
- ``schedule.create``, ``schedule.update``, ``schedule.delete`` (API and Reports page)
- ``auth.unauthenticated`` (401) and ``auth.forbidden`` (403): failed authorization
- ``auth.signin``, ``auth.signin_failed``, ``auth.signout``: the Reports page's sign-ins
- ``limit.rate`` and ``limit.queue``: a request refused by a limit
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from reportcard.clock import utcnow
from reportcard.db.audit_tables import audit_events

__all__ = ["ACTIONS", "filtered", "list_events", "record", "record_now", "serialize"]

ACTIONS = (
    "report.start",
    "report.download",
    "report.abort",
    "report.delete",
    "sis_import.create",
    "sis_import.abort",
    "token.create",
    "token.revoke",
    "schedule.create",
    "schedule.update",
    "schedule.delete",
    "auth.unauthenticated",
    "auth.forbidden",
    "auth.signin",
    "auth.signin_failed",
    "auth.signout",
    "limit.rate",
    "limit.queue",
)


def record(
    conn: Connection,
    *,
    user_id: int | None,
    action: str,
    account_id: int | None = None,
    subject_type: str | None = None,
    subject_id: int | None = None,
    detail: dict | None = None,
    ip: str | None = None,
) -> None:
    """Append one event in ``conn``'s transaction (the caller commits)."""
    conn.execute(
        insert(audit_events).values(
            created_at=utcnow(),
            user_id=user_id,
            account_id=account_id,
            action=action[:64],
            subject_type=subject_type,
            subject_id=subject_id,
            detail=detail or None,
            ip=(ip or None) and ip[:64],
        )
    )


def record_now(engine: Engine, **kwargs: Any) -> None:
    """``record`` in a transaction of its own (for events whose request fails afterwards)."""
    with engine.begin() as conn:
        record(conn, **kwargs)


def list_events(
    conn: Connection,
    *,
    account_ids: Sequence[int] | None = None,
    action: str | None = None,
    user_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Events, newest first; ``account_ids`` restricts to those accounts (None: all)."""
    e = audit_events.c
    stmt = filtered(
        select(audit_events),
        account_ids=account_ids,
        action=action,
        user_id=user_id,
        since=since,
        until=until,
    )
    stmt = stmt.order_by(e.created_at.desc(), e.id.desc()).limit(limit).offset(offset)
    return [serialize(row) for row in conn.execute(stmt)]


def filtered(
    stmt: Any,
    *,
    account_ids: Sequence[int] | None = None,
    action: str | None = None,
    user_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Any:
    """``stmt`` (a select, or the table for ``select(table)``) with the filters applied."""
    if stmt is audit_events:
        stmt = select(audit_events)
    e = audit_events.c
    if account_ids is not None:
        stmt = stmt.where(e.account_id.in_(list(account_ids)))
    if action:
        if action.endswith(".*") or "." not in action:
            stmt = stmt.where(e.action.startswith(action.rstrip("*").rstrip(".") + "."))
        else:
            stmt = stmt.where(e.action == action)
    if user_id is not None:
        stmt = stmt.where(e.user_id == user_id)
    if since is not None:
        stmt = stmt.where(e.created_at >= since)
    if until is not None:
        stmt = stmt.where(e.created_at < until)
    return stmt


def serialize(row: Any) -> dict[str, Any]:
    return {
        "id": int(row.id),
        "created_at": row.created_at.isoformat(timespec="seconds") + "Z",
        "user_id": row.user_id,
        "account_id": row.account_id,
        "action": row.action,
        "subject_type": row.subject_type,
        "subject_id": row.subject_id,
        "detail": row.detail or {},
        "ip": row.ip,
    }
