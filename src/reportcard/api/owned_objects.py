"""What the endpoints of objects an account owns share (report schedules, report webhooks).

The account is authorized before anything about the request body is read; the body may wrap
its fields Canvas-style under the object's name (``report_schedule[report]=...``); an id in
the path that cannot be one is a 404, like an id that names nothing.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from reportcard.api.rails_params import ParamError
from reportcard.api.reports import request_parameters
from reportcard.db.engine import read_conn
from reportcard.service.deps import CurrentUser, Services, authorize_account
from reportcard.service.errors import bad_request, not_found


def check_account(svc: Services, user: CurrentUser, account_id: str) -> None:
    """Authorization comes before anything about the request body."""
    with read_conn(svc.engine) as conn:
        authorize_account(conn, user, account_id)


async def object_body(request: Request, key: str) -> dict[str, Any]:
    """The fields the client sent: those under ``key`` when it wrapped them, else all."""
    try:
        sent = await request_parameters(request)
    except ParamError as exc:
        raise bad_request(str(exc)) from exc
    inner = sent.get(key)
    return inner if isinstance(inner, dict) else sent


def object_id(text: str) -> int:
    """The id in the path, or a 404."""
    if not (text.isascii() and text.isdigit() and len(text) <= 18):
        raise not_found()
    return int(text)
