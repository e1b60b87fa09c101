"""Tables of the Reports page: signed-in browser sessions.

The cookie holds a random secret; the table holds only its SHA-256 (as access tokens do), the
user, the per-session CSRF token and the times that end the session.
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
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("last_seen_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Index("ix_web_sessions_user", "user_id"),
    Index("ix_web_sessions_expires", "expires_at"),
)
