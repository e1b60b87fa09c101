"""Tables of the Reports page: signed-in browser sessions.

The cookie holds a random secret; the table holds only its SHA-256 (as access tokens do), the
user, the per-session CSRF token and the times that end the session, and what started it (the
access token of a token sign-in; a stamp of the login's password hash for a password sign-in),
so that revoking the token or changing the password ends the session.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, ForeignKey, Index, String, Table

from reportcard.db.tables import Id, metadata

__all__ = ["metadata", "web_sessions"]

web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("user_id", Id, ForeignKey("users.id"), nullable=False),
    Column("login_id", Id, nullable=True),  # the pseudonym signed in with (password sign-in)
    Column("method", String(16), nullable=False),  # password or token
    Column("access_token_id", Id, nullable=True),  # the access token signed in with (token)
    # SHA-256 of the login's password hash at sign-in (password): another hash ends the session.
    Column("password_stamp", String(64), nullable=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("last_seen_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Index("ix_web_sessions_user", "user_id"),
    Index("ix_web_sessions_token", "access_token_id"),
    Index("ix_web_sessions_expires", "expires_at"),
)
