"""The audit log over HTTP (a reportcard extension) and the recording of failed authorization.

``GET /api/v1/accounts/:account_id/audit_events`` lists the events of that account and its
sub-accounts, newest first, ``page``/``per_page`` paginated with ``Link`` headers. Filters:
``action`` (exact, or a prefix such as ``report`` / ``report.*``), ``user_id``, ``since`` and
``until`` (ISO 8601, UTC unless an offset is given). It needs the ``view_audit_log``
permission on the account (through an admin role there or above; built-in AccountAdmin has it,
custom roles get it by listing it). ``read_reports`` alone is not enough: the log shows who
did what, which is more than report data.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import func, select
from starlette.responses import Response

from reportcard import audit
from reportcard.api.pagination import link_header, page_of
from reportcard.auth.tokens import hash_token, token_id
from reportcard.db.audit_tables import audit_events
from reportcard.db.engine import read_conn
from reportcard.db.tables import access_tokens, account_ancestors
from reportcard.ids import is_id
from reportcard.service.deps import ServicesDep, UserDep, authorize_account, presented_token
from reportcard.service.errors import bad_request, json_response
from reportcard.timebounds import OutOfRange, naive_utc

VIEW_AUDIT_LOG = "view_audit_log"

router = APIRouter(prefix="/api/v1/accounts/{account_id}/audit_events", tags=["audit"])


def client_ip(request: Request) -> str | None:
    """The client's address as the server sees it (uvicorn applies X-Forwarded-For if trusted)."""
    return request.client.host if request.client is not None else None


_ACCOUNT_IN_PATH = re.compile(r"^/api/v1/accounts/(\d{1,18})(?:/|$)")


def record_denied(request: Request, status: int, body: Any) -> None:
    """Append an ``auth.unauthenticated`` (401) or ``auth.forbidden`` (403) event.

    Records the method, path, the presented token's id part (never the secret), the token's
    user when the token is known, the account in the path and the client address.
    """
    svc = getattr(request.app.state, "services", None)
    if svc is None:
        return
    token = presented_token(request)
    user_id = None
    if token is not None:
        try:
            with read_conn(svc.engine) as conn:
                user_id = conn.execute(
                    select(access_tokens.c.user_id).where(
                        access_tokens.c.token_hash == hash_token(token)
                    )
                ).scalar()
        except Exception:  # the event is still worth recording without the user
            user_id = None
    match = _ACCOUNT_IN_PATH.match(request.url.path)
    message = None
    if isinstance(body, dict) and body.get("errors"):
        first = body["errors"][0]
        message = first.get("message") if isinstance(first, dict) else str(first)
    detail = {
        "method": request.method,
        "path": request.url.path[:500],
        "status": status,
        "message": message,
        "token": None if token is None else (token_id(token) or "malformed"),
    }
    try:
        audit.record_now(
            svc.engine,
            user_id=None if user_id is None else int(user_id),
            action="auth.unauthenticated" if status == 401 else "auth.forbidden",
            account_id=int(match[1]) if match else None,
            detail=detail,
            ip=client_ip(request),
        )
    except Exception:  # never turn a 401/403 into a 500 because the log is unwritable
        import logging

        logging.getLogger(__name__).exception("could not record a failed authorization")


def parse_time(value: str | None, name: str) -> datetime | None:
    """An ISO 8601 time (``Z`` or an offset; none: UTC) as naive UTC, or a Canvas 400."""
    if value is None or value == "":
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError as exc:
        raise bad_request(f"{name} must be an ISO 8601 time, like 2026-01-31T12:00:00Z") from exc
    try:
        return naive_utc(when)
    except OutOfRange as exc:
        raise bad_request(f"{name} is out of range (years 1 to 9999, in UTC)") from exc


@router.get("", summary="List audit events", operation_id="list_audit_events")
def list_audit_events(
    account_id: str, request: Request, svc: ServicesDep, user: UserDep
) -> Response:
    """Audit events of the account and its sub-accounts, newest first (reportcard extension)."""
    page = page_of(request, default=50)
    q = request.query_params
    since = parse_time(q.get("since"), "since")
    until = parse_time(q.get("until"), "until")
    raw_user = q.get("user_id")
    if raw_user is not None and not is_id(raw_user):
        raise bad_request("user_id must be a user id")
    action = q.get("action") or None
    if action is not None and len(action) > 64:
        raise bad_request("action is too long")
    with read_conn(svc.engine) as conn:
        account = authorize_account(conn, user, account_id, VIEW_AUDIT_LOG)
        subtree = select(account_ancestors.c.account_id).where(
            account_ancestors.c.ancestor_id == account.id
        )
        ids = [int(i) for i in conn.execute(subtree).scalars()]
        filters: dict[str, Any] = {
            "account_ids": ids,
            "action": action,
            "user_id": int(raw_user) if raw_user is not None else None,
            "since": since,
            "until": until,
        }
        total = conn.execute(
            select(func.count()).select_from(audit.filtered(audit_events, **filters).subquery())
        ).scalar_one()
        body = audit.list_events(conn, **filters, limit=page.per_page, offset=page.offset)
    return json_response(body, headers={"Link": link_header(request, page, int(total))})
