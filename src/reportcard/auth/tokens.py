"""Bearer access tokens: random secrets stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from reportcard.db.tables import access_tokens, pseudonyms
from reportcard.runs.context import utcnow


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(
    conn: Connection,
    user_id: int,
    *,
    purpose: str | None = None,
    expires_at: datetime | None = None,
) -> str:
    """Create a token for ``user_id``; the secret is returned once and never stored."""
    secret = secrets.token_urlsafe(48)
    now = utcnow()
    result = conn.execute(
        insert(access_tokens).values(
            user_id=user_id,
            token_hash="pending",
            hint=secret[:5],
            purpose=purpose,
            workflow_state="active",
            expires_at=expires_at,
            created_at=now,
        )
    )
    pk = result.inserted_primary_key
    assert pk is not None
    token = f"{int(pk[0])}~{secret}"
    conn.execute(
        update(access_tokens)
        .where(access_tokens.c.id == int(pk[0]))
        .values(token_hash=hash_token(token))
    )
    return token


def revoke_token(conn: Connection, token_id: int) -> bool:
    res = conn.execute(
        update(access_tokens).where(access_tokens.c.id == token_id).values(workflow_state="deleted")
    )
    return res.rowcount == 1


def user_for_login(conn: Connection, login: str, root_account_id: int | None = None) -> Any:
    """The active login row with ``unique_id == login`` (in one root account if given)."""
    stmt = select(pseudonyms).where(
        pseudonyms.c.unique_id == login, pseudonyms.c.workflow_state == "active"
    )
    if root_account_id is not None:
        stmt = stmt.where(pseudonyms.c.account_id == root_account_id)
    return conn.execute(stmt.order_by(pseudonyms.c.id)).first()
