"""Server-side sessions of the Reports page.

The browser holds a random secret in an HTTP-only, SameSite=Lax cookie (Secure unless
``ui_cookie_secure`` is off); the ``web_sessions`` table holds only its SHA-256, the user, the
session's CSRF token and when it ends: after ``ui_session_hours`` without use, or
``ui_session_max_hours`` after sign-in, whichever comes first. Signing out deletes the row.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, bindparam, delete, insert, select, update

from reportcard.db.engine import read_conn
from reportcard.db.tables import users
from reportcard.db.web_tables import web_sessions
from reportcard.runs.context import utcnow

COOKIE = "reportcard_session"
TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often


@dataclass(frozen=True)
class WebSession:
    id: int
    user_id: int
    user_name: str
    csrf_token: str
    method: str


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_session(
    conn: Connection,
    user_id: int,
    *,
    method: str,
    idle_hours: float,
    max_hours: float,
    login_id: int | None = None,
    now: datetime | None = None,
) -> str:
    """Start a session; returns the cookie's secret (shown once, stored only hashed)."""
    now = now or utcnow()
    secret = secrets.token_urlsafe(32)
    conn.execute(
        insert(web_sessions).values(
            token_hash=_digest(secret),
            user_id=user_id,
            login_id=login_id,
            method=method,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(hours=min(idle_hours, max_hours)),
        )
    )
    return secret


_LOOKUP = (
    select(
        web_sessions.c.id,
        web_sessions.c.user_id,
        web_sessions.c.csrf_token,
        web_sessions.c.method,
        web_sessions.c.created_at,
        web_sessions.c.last_seen_at,
        web_sessions.c.expires_at,
        users.c.name,
        users.c.workflow_state,
    )
    .join(users, users.c.id == web_sessions.c.user_id)
    .where(web_sessions.c.token_hash == bindparam("hash"))
)


def load_session(
    engine: Engine,
    secret: str | None,
    *,
    idle_hours: float,
    max_hours: float,
    now: datetime | None = None,
) -> WebSession | None:
    """The live session behind a cookie's secret, else None.

    One read; a write only when the session has ended (its row is deleted) or was last seen
    more than ``TOUCH_EVERY`` ago (its idle expiry slides, never past the hard end).
    """
    if not secret or len(secret) > 200:
        return None
    now = now or utcnow()
    with read_conn(engine) as conn:
        row = conn.execute(_LOOKUP, {"hash": _digest(secret)}).first()
    if row is None:
        return None
    if row.expires_at <= now or row.workflow_state == "deleted":
        with engine.begin() as conn:
            conn.execute(delete(web_sessions).where(web_sessions.c.id == row.id))
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        hard_end = row.created_at + timedelta(hours=max_hours)
        with engine.begin() as conn:
            conn.execute(
                update(web_sessions)
                .where(web_sessions.c.id == row.id)
                .values(
                    last_seen_at=now,
                    expires_at=min(now + timedelta(hours=idle_hours), hard_end),
                )
            )
    return WebSession(
        id=int(row.id),
        user_id=int(row.user_id),
        user_name=row.name,
        csrf_token=row.csrf_token,
        method=row.method,
    )


def end_session(conn: Connection, secret: str | None) -> bool:
    """Sign out: the session row is deleted, so the cookie is worthless even if kept."""
    if not secret:
        return False
    res = conn.execute(delete(web_sessions).where(web_sessions.c.token_hash == _digest(secret)))
    return res.rowcount == 1


def purge_expired(conn: Connection, now: datetime | None = None) -> int:
    """Delete ended sessions; returns how many."""
    res = conn.execute(delete(web_sessions).where(web_sessions.c.expires_at <= (now or utcnow())))
    return int(res.rowcount or 0)
