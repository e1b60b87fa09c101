"""Recording the Reports page's failed authorizations and sign-ins in the audit log.

Like the API (``reportcard.api.audit_events.record_denied``): a refused CSRF proof (403), an
account or object the person may not see (answered 404, recorded as ``auth.forbidden`` with
``"status": 404``), a change (POST) attempted without a live session
(``auth.unauthenticated``), and every sign-in, failed (``auth.signin_failed``: the login or the
token's id part and the reason, never the password or the token) or not (``auth.signin``), and
sign-out (``auth.signout``). Each event has the client address and ``"via": "web"``. Writing
the event never turns the answer into a 500.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from starlette.requests import Request

from reportcard import audit
from reportcard.ids import parse_id

log = logging.getLogger(__name__)
_ACCOUNT_IN_PATH = re.compile(r"^/accounts/([0-9]{1,19})(?:/|$)")


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def path_account(request: Request) -> int | None:
    match = _ACCOUNT_IN_PATH.match(request.url.path)
    return parse_id(match[1]) if match else None


def record_web(
    request: Request,
    action: str,
    *,
    user_id: int | None = None,
    account_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one event in its own transaction (call from a worker thread)."""
    svc = getattr(request.app.state, "services", None)
    if svc is None:
        return
    full = {"via": "web", "method": request.method, "path": request.url.path[:500]}
    full.update(detail or {})
    try:
        audit.record_now(
            svc.engine,
            user_id=user_id,
            action=action,
            account_id=account_id if account_id is not None else path_account(request),
            detail=full,
            ip=client_ip(request),
        )
    except Exception:  # never turn a refusal into a 500 because the log is unwritable
        log.exception("could not record %s", action)
