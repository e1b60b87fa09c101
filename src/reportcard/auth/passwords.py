"""Login passwords: scrypt (stdlib) with a per-login salt, stored on the login (pseudonym).

A stored hash reads ``scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>``, so the cost can be raised
later without breaking the hashes already stored. Comparisons are constant-time, and a login
that does not exist (or has no password) still costs one scrypt, so timing does not tell
which logins exist.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
from typing import Any

from sqlalchemy import Connection, delete, select, update

from reportcard.clock import utcnow
from reportcard.db.tables import pseudonyms
from reportcard.db.web_tables import web_sessions

N, R, P = 2**15, 8, 1  # about 32 MiB and a few tens of milliseconds per hash
KEY_BYTES = 32
SALT_BYTES = 16
MIN_LENGTH = 8
MAX_LENGTH = 1024
_MAXMEM = 128 * 1024 * 1024


class WeakPassword(ValueError):
    """A password that may not be set (too short, too long, or blank)."""


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=KEY_BYTES
    )


def check_strength(password: str) -> None:
    if not password.strip():
        raise WeakPassword("The password is blank.")
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"The password must have at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"The password must have at most {MAX_LENGTH} characters.")


def hash_password(password: str, *, n: int = N, r: int = R, p: int = P) -> str:
    """A new salted hash of ``password`` (the string to store)."""
    salt = secrets.token_bytes(SALT_BYTES)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(_derive(password, salt, n, r, p))}"


@functools.cache
def _dummy() -> str:
    """A hash to check against when there is none, made on first use (not at import)."""
    return hash_password("reportcard-no-such-login")


def verify_password(password: str, stored: str | None) -> bool:
    """True when ``password`` matches ``stored``; False for a missing or malformed hash."""
    if len(password) > MAX_LENGTH:
        return False
    if not stored:
        verify_password(password, _dummy())  # spend the same time as a real check
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest, validate=True)
        got = _derive(password, base64.b64decode(salt, validate=True), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def set_password(conn: Connection, login_id: int, password: str) -> int:
    """Store a new hash of ``password`` on the login with primary key ``login_id``.

    Every Reports page session of the login's user ends (password- and token-started alike:
    setting a password is what an administrator does when an account may be compromised);
    returns how many ended.
    """
    check_strength(password)
    conn.execute(
        update(pseudonyms)
        .where(pseudonyms.c.id == login_id)
        .values(password_hash=hash_password(password), updated_at=utcnow())
    )
    owner = select(pseudonyms.c.user_id).where(pseudonyms.c.id == login_id).scalar_subquery()
    ended = conn.execute(delete(web_sessions).where(web_sessions.c.user_id == owner))
    return int(ended.rowcount or 0)


def login_for_password(conn: Connection, login: str, password: str) -> Any:
    """The active login named ``login`` whose password is ``password``, or None.

    A login name may exist in several root accounts; each one's hash is tried in id order.
    """
    rows = conn.execute(
        select(pseudonyms)
        .where(pseudonyms.c.unique_id == login, pseudonyms.c.workflow_state == "active")
        .order_by(pseudonyms.c.id)
    ).all()
    candidates = [row for row in rows if row.password_hash]
    if not candidates:
        verify_password(password, None)
        return None
    for row in candidates:
        if verify_password(password, row.password_hash):
            return row
    return None
