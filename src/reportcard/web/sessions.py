"""Server-side sessions of the Reports page.

The browser holds a random secret in an HTTP-only, SameSite=Lax cookie (Secure unless
``ui_cookie_secure`` is off); the ``web_sessions`` table holds only its SHA-256, the user, the
session's CSRF token and when it ends: after ``ui_session_hours`` without use, or
``ui_session_max_hours`` after sign-in, whichever comes first. Signing out deletes the row.

A session is bound to what started it, and checked at every request: one started with an
access token ends when that token is revoked, expires or is deleted; one started with a
password ends when the login is no longer active or its password changed (the row keeps a
SHA-256 of the login's password hash at sign-in). Revoking a token and setting a password also
delete the sessions at once (``reportcard.auth``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, delete, insert, or_, select, update

from reportcard.clock import utcnow
from reportcard.db.engine import read_conn
from reportcard.db.tables import access_tokens, pseudonyms, users
from reportcard.db.web_tables import web_sessions

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


def password_stamp(password_hash: str | None) -> str | None:
    """What a password session remembers of the login's password: a digest of its hash."""
    return None if not password_hash else _digest(password_hash)


def create_session(
    conn: Connection,
    user_id: int,
    *,
    method: str,
    idle_hours: float,
    max_hours: float,
    login_id: int | None = None,
    access_token_id: int | None = None,
    password_hash: str | None = None,
    now: datetime | None = None,
) -> str:
    """Start a session; returns the cookie's secret (shown once, stored only hashed).

    A token session names its ``access_token_id``; a password session its ``login_id`` and the
    login's ``password_hash`` as it was (only a digest of it is kept).
    """
    if method == "token" and access_token_id is None:
        raise ValueError("a token session needs the access token it was started with")
    if method == "password" and (login_id is None or not password_hash):
        raise ValueError("a password session needs its login and the login's password hash")
    now = now or utcnow()
    secret = secrets.token_urlsafe(32)
    conn.execute(
        insert(web_sessions).values(
            token_hash=_digest(secret),
            user_id=user_id,
            login_id=login_id,
            method=method,
            access_token_id=access_token_id,
            password_stamp=password_stamp(password_hash),
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
        web_sessions.c.password_stamp,
        users.c.name,
        users.c.workflow_state,
        access_tokens.c.workflow_state.label("token_state"),
        access_tokens.c.expires_at.label("token_expires_at"),
        pseudonyms.c.workflow_state.label("login_state"),
        pseudonyms.c.password_hash,
    )
    .join(users, users.c.id == web_sessions.c.user_id)
    .outerjoin(
        access_tokens,
        (access_tokens.c.id == web_sessions.c.access_token_id)
        & (access_tokens.c.user_id == web_sessions.c.user_id),
    )
    .outerjoin(
        pseudonyms,
        (pseudonyms.c.id == web_sessions.c.login_id)
        & (pseudonyms.c.user_id == web_sessions.c.user_id),
    )
    .where(web_sessions.c.token_hash == bindparam("hash"))
)


def still_bound(row: Any, now: datetime) -> bool:
    """Whether what started the session still vouches for it (see the module's docstring)."""
    if row.method == "token":
        return row.token_state == "active" and (
            row.token_expires_at is None or row.token_expires_at > now
        )
    if row.method == "password":
        stamp = password_stamp(row.password_hash)
        return (
            row.login_state == "active"
            and stamp is not None
            and row.password_stamp is not None
            and hmac.compare_digest(stamp, row.password_stamp)
        )
    return False


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
    if row.expires_at <= now or row.workflow_state == "deleted" or not still_bound(row, now):
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
    """Delete ended sessions, and those whose access token has ended; returns how many."""
    now = now or utcnow()
    t = access_tokens.c
    token_ended = select(t.id).where(
        or_(t.workflow_state != "active", and_(t.expires_at.is_not(None), t.expires_at <= now))
    )
    res = conn.execute(
        delete(web_sessions).where(
            or_(
                web_sessions.c.expires_at <= now,
                web_sessions.c.access_token_id.in_(token_ended),
            )
        )
    )
    return int(res.rowcount or 0)
