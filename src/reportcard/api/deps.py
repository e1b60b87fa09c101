"""Request-scoped dependencies: the app's services, the current user, the account in the path."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import Connection, Engine, select

from reportcard.api.errors import UNAUTHENTICATED, WWW_AUTH, CanvasError, not_found
from reportcard.auth.permissions import READ_REPORTS, has_permission
from reportcard.auth.tokens import check_token
from reportcard.db.tables import accounts, pseudonyms, users
from reportcard.runs.worker import WorkerPool
from reportcard.settings import Settings
from reportcard.storage.base import Storage


@dataclass
class Services:
    settings: Settings
    engine: Engine
    storage: Storage
    pool: WorkerPool | None = None

    def notify(self) -> None:
        if self.pool is not None:
            self.pool.notify()


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


def presented_token(request: Request) -> str | None:
    auth = request.headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    token = request.query_params.get("access_token")
    return token or None


def authenticate(conn: Connection, token: str | None) -> CurrentUser:
    """The user behind ``token``, or the exact Canvas 401."""
    if token is None:
        raise CanvasError(401, UNAUTHENTICATED, WWW_AUTH)
    check = check_token(conn, token)
    if check.user_id is None:
        if check.problem == "expired":
            body: dict[str, Any] = {
                "errors": [
                    {
                        "message": "Expired access token.",
                        "expired_at": check.expired_at.isoformat() + "Z"
                        if check.expired_at
                        else None,
                    }
                ]
            }
        elif check.problem == "revoked":
            body = {"errors": [{"message": "Revoked access token."}]}
        else:
            body = {"errors": [{"message": "Invalid access token."}]}
        raise CanvasError(401, body, WWW_AUTH)
    row = conn.execute(select(users).where(users.c.id == check.user_id)).one()
    return CurrentUser(
        id=int(row.id),
        name=row.name,
        short_name=row.short_name,
        pronouns=row.pronouns,
        time_zone=row.time_zone,
    )


def current_user(request: Request, svc: ServicesDep) -> CurrentUser:
    with svc.engine.connect() as conn:
        conn.info["write"] = False
        try:
            return authenticate(conn, presented_token(request))
        finally:
            conn.info["write"] = True


UserDep = Annotated[CurrentUser, Depends(current_user)]


def user_roots(conn: Connection, user_id: int) -> list[int]:
    rows = conn.execute(
        select(pseudonyms.c.account_id)
        .where(pseudonyms.c.user_id == user_id, pseudonyms.c.workflow_state != "deleted")
        .distinct()
        .order_by(pseudonyms.c.account_id)
    ).scalars()
    return [int(r) for r in rows]


def find_account(conn: Connection, user: CurrentUser, ref: str) -> Any:
    """The account a path names: ``12``, ``self`` or ``sis_account_id:X`` (else 404).

    ``self`` and SIS ids are read in the user's own root account (the root of their first
    login), as Canvas reads them in the domain's root account.
    """
    a = accounts.c
    if ref.isdigit():
        row = conn.execute(select(accounts).where(a.id == int(ref))).first()
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
    from reportcard.api.errors import UNAUTHORIZED

    account = find_account(conn, user, ref)
    if not has_permission(conn, user.id, int(account.id), permission):
        raise CanvasError(403, UNAUTHORIZED)
    return account
