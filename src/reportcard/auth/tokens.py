"""Bearer access tokens: random secrets stored only as SHA-256 hashes.

A token is ``<id>~<secret>``; the database keeps its SHA-256 (``token_hash``), the first five
characters of the secret (``hint``, to tell tokens apart in listings), an optional purpose and
expiry, and the time it was last used. The full token is shown once, by ``create_token``.

Lookups go by the hash (an indexed equality on a digest of the presented value, so timing says
nothing about any stored secret); ``matches`` compares digests in constant time.

``last_used_at`` is written at most once a minute per token (``TOUCH_SECONDS``): each process
remembers when it last wrote a token's time and skips the write before that, and the write
itself happens on a background thread so that no request waits for it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, or_, select, update

from reportcard.clock import utcnow
from reportcard.db.tables import access_tokens, pseudonyms, users
from reportcard.db.web_tables import web_sessions
from reportcard.ids import parse_id

TOUCH_SECONDS = 60.0


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def matches(token: str, stored_hash: str) -> bool:
    """Constant-time check of a presented token against a stored hash."""
    return hmac.compare_digest(hash_token(token), stored_hash)


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
            token_hash=f"pending-{secrets.token_hex(16)}",
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


def token_id(token: str) -> int | None:
    """The id part of a presented token (for audit records), if it has the usual form."""
    head, sep, _ = token.partition("~")
    return parse_id(head) if sep else None


def revoke_token(conn: Connection, token_id: int) -> bool:
    """Revoke an active token; False when there is no such active token.

    The Reports page sessions signed in with it end too (their rows are deleted).
    """
    res = conn.execute(
        update(access_tokens)
        .where(access_tokens.c.id == token_id, access_tokens.c.workflow_state == "active")
        .values(workflow_state="deleted")
    )
    conn.execute(delete(web_sessions).where(web_sessions.c.access_token_id == token_id))
    return res.rowcount == 1


def get_token(conn: Connection, token_id: int) -> Any:
    return conn.execute(select(access_tokens).where(access_tokens.c.id == token_id)).first()


def list_tokens(
    conn: Connection, *, user_id: int | None = None, include_revoked: bool = False
) -> list[dict[str, Any]]:
    """Tokens (never their secrets or hashes), oldest first."""
    t = access_tokens.c
    stmt = select(
        t.id,
        t.user_id,
        users.c.name.label("user_name"),
        t.hint,
        t.purpose,
        t.workflow_state,
        t.expires_at,
        t.last_used_at,
        t.created_at,
    ).join(users, users.c.id == t.user_id)
    if user_id is not None:
        stmt = stmt.where(t.user_id == user_id)
    if not include_revoked:
        stmt = stmt.where(t.workflow_state == "active")
    now = utcnow()
    out = []
    for row in conn.execute(stmt.order_by(t.id)):
        state = row.workflow_state
        if state == "active" and row.expires_at is not None and row.expires_at <= now:
            state = "expired"
        out.append(
            {
                "id": int(row.id),
                "user_id": int(row.user_id),
                "user_name": row.user_name,
                "hint": row.hint,
                "purpose": row.purpose,
                "state": "revoked" if state == "deleted" else state,
                "expires_at": _iso(row.expires_at),
                "last_used_at": _iso(row.last_used_at),
                "created_at": _iso(row.created_at),
            }
        )
    return out


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds") + "Z"


_DURATION = re.compile(r"^\s*(\d{1,6})\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``12h``, ``30d`` or ``2w`` as a timedelta (ValueError otherwise)."""
    m = _DURATION.match(text)
    if m is None or int(m[1]) == 0:
        raise ValueError(f"not a duration like 30d, 12h or 15m: {text!r}")
    return timedelta(seconds=int(m[1]) * _UNITS[m[2]])


def user_for_login(conn: Connection, login: str, root_account_id: int | None = None) -> Any:
    """The active login row with ``unique_id == login`` (in one root account if given)."""
    stmt = select(pseudonyms).where(
        pseudonyms.c.unique_id == login, pseudonyms.c.workflow_state == "active"
    )
    if root_account_id is not None:
        stmt = stmt.where(pseudonyms.c.account_id == root_account_id)
    return conn.execute(stmt.order_by(pseudonyms.c.id)).first()


# ------------------------------------------------------------------ last used, cheaply
_touched: dict[str, float] = {}
_touch_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None


def note_used(engine: Engine, token_hash: str) -> Future[None] | None:
    """Record that a token was used now, at most once per ``TOUCH_SECONDS`` per process.

    Returns the background write's future (tests wait on it), or None when skipped.
    """
    global _executor
    now = time.monotonic()
    with _touch_lock:
        last = _touched.get(token_hash)
        if last is not None and now - last < TOUCH_SECONDS:
            return None
        _touched[token_hash] = now
        if len(_touched) > 100_000:  # bounded memory: forget the oldest half
            for key in sorted(_touched, key=_touched.__getitem__)[: len(_touched) // 2]:
                del _touched[key]
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="token-touch")
    return _executor.submit(_touch, engine, token_hash)


def _touch(engine: Engine, token_hash: str) -> None:
    now = utcnow()
    stale = now - timedelta(seconds=TOUCH_SECONDS)
    t = access_tokens.c
    try:
        with engine.begin() as conn:
            conn.execute(
                update(access_tokens)
                .where(
                    t.token_hash == token_hash,
                    or_(t.last_used_at.is_(None), t.last_used_at < stale),
                )
                .values(last_used_at=now)
            )
    except Exception:  # a busy database only delays the next note
        with _touch_lock:
            _touched.pop(token_hash, None)


def forget_touches() -> None:
    """Clear the per-process memory (tests)."""
    with _touch_lock:
        _touched.clear()
