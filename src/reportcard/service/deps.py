"""Request-scoped dependencies: the app's services, the current user, the account in the path."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import Connection, Engine, bindparam, select

from reportcard.auth.permissions import READ_REPORTS, has_permission
from reportcard.auth.tokens import hash_token, note_used
from reportcard.clock import utcnow
from reportcard.db.engine import read_conn
from reportcard.db.tables import access_tokens, accounts, pseudonyms, users
from reportcard.ids import is_id
from reportcard.runtime import Runtime
from reportcard.service.errors import (
    UNAUTHENTICATED,
    UNAUTHORIZED,
    WWW_AUTH,
    CanvasError,
    not_found,
)

# The app's services are the process's runtime (reportcard.runtime).
Services = Runtime


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


ServicesDep = Annotated[Services, Depends(services)]


@dataclass(frozen=True)
class CurrentUser:
    id: int
    name: str
    short_name: str | None
    pronouns: str | None
    time_zone: str | None
    token_id: int | None = None  # the access token that authenticated this request


def presented_token(request: Request) -> str | None:
    auth = request.headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    token = request.query_params.get("access_token")
    return token or None


# Built once: the token's state and its user, in one indexed lookup.
_TOKEN_USER = (
    select(
        access_tokens.c.id.label("token_id"),
        access_tokens.c.workflow_state.label("token_state"),
        access_tokens.c.expires_at,
        users.c.id,
        users.c.name,
        users.c.short_name,
        users.c.pronouns,
        users.c.time_zone,
    )
    .join(users, users.c.id == access_tokens.c.user_id)
    .where(access_tokens.c.token_hash == bindparam("hash"))
)


def authenticate(conn: Connection, token: str | None, engine: Engine | None = None) -> CurrentUser:
    """The user behind ``token``, or the exact Canvas 401.

    With ``engine``, the token's last-used time is noted (at most once a minute, off-thread).
    """
    if token is None:
        raise CanvasError(401, UNAUTHENTICATED, WWW_AUTH)
    digest = hash_token(token)
    row = conn.execute(_TOKEN_USER, {"hash": digest}).first()
    if row is None:
        raise CanvasError(401, {"errors": [{"message": "Invalid access token."}]}, WWW_AUTH)
    if row.token_state != "active":
        raise CanvasError(401, {"errors": [{"message": "Revoked access token."}]}, WWW_AUTH)
    if row.expires_at is not None and row.expires_at <= utcnow():
        expired = row.expires_at.isoformat(timespec="seconds") + "Z"
        body = {"errors": [{"message": "Expired access token.", "expired_at": expired}]}
        raise CanvasError(401, body, WWW_AUTH)
    if engine is not None:
        note_used(engine, digest)
    return CurrentUser(
        id=int(row.id),
        name=row.name,
        short_name=row.short_name,
        pronouns=row.pronouns,
        time_zone=row.time_zone,
        token_id=int(row.token_id),
    )


async def current_user(request: Request, svc: ServicesDep) -> CurrentUser:
    """Runs on the event loop: one primary-key lookup, cheaper than a thread hop."""
    with read_conn(svc.engine) as conn:
        return authenticate(conn, presented_token(request), svc.engine)


UserDep = Annotated[CurrentUser, Depends(current_user)]


def user_roots(conn: Connection, user_id: int) -> list[int]:
    rows = conn.execute(
        select(pseudonyms.c.account_id)
        .where(pseudonyms.c.user_id == user_id, pseudonyms.c.workflow_state != "deleted")
        .distinct()
        .order_by(pseudonyms.c.account_id)
    ).scalars()
    return [int(r) for r in rows]


_ACCOUNT_BY_ID = select(accounts).where(accounts.c.id == bindparam("id"))


def find_account(conn: Connection, user: CurrentUser, ref: str) -> Any:
    """The account a path names: ``12``, ``self`` or ``sis_account_id:X`` (else 404).

    ``self`` and SIS ids are read in the user's own root account (the root of their first
    login), as Canvas reads them in the domain's root account.
    """
    a = accounts.c
    if is_id(ref):
        row = conn.execute(_ACCOUNT_BY_ID, {"id": int(ref)}).first()
    else:
        roots = user_roots(conn, user.id)
        if not roots:
            raise not_found()
        if ref == "self":
            row = conn.execute(select(accounts).where(a.id == roots[0])).first()
        elif ref.startswith("sis_account_id:"):
            sis = ref.split(":", 1)[1]
            row = conn.execute(
                select(accounts)
                .where(a.sis_source_id == sis, a.root_account_id.in_(roots))
                .order_by(a.id)
            ).first()
        else:
            row = None
    if row is None or row.workflow_state == "deleted":
        raise not_found()
    return row


def authorize_account(
    conn: Connection, user: CurrentUser, ref: str, permission: str = READ_REPORTS
) -> Any:
    """The account named by ``ref`` if ``user`` holds ``permission`` there; 404/403 otherwise."""
    account = find_account(conn, user, ref)
    if not has_permission(conn, user.id, int(account.id), permission):
        raise CanvasError(403, UNAUTHORIZED)
    return account
