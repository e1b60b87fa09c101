"""reportcard's extension: webhook endpoints under ``/api/v1/accounts/:id/report_webhooks``.

Not part of Canvas. An endpoint receives the events of runs on its account and every
sub-account. Its signing secret is shown once, in the answer to create (or to an update with
``rotate_secret=true``); listings and show never include it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import Connection, insert, select, update
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from reportcard.api.owned_objects import check_account, object_body, object_id
from reportcard.api.pagination import counted_page, link_header, page_of
from reportcard.clock import utcnow
from reportcard.db.engine import read_conn
from reportcard.db.schedule_tables import report_webhooks, webhook_deliveries
from reportcard.notify.webhooks import EVENTS, AddressRefused, check_url, new_secret
from reportcard.service.deps import CurrentUser, Services, ServicesDep, UserDep, authorize_account
from reportcard.service.errors import bad_request, json_response, not_found

router = APIRouter(prefix="/api/v1/accounts/{account_id}/report_webhooks", tags=["webhooks"])

__all__ = ["router"]


def _z(value: Any) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")


def webhook_json(row: Any, *, secret: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": int(row.id),
        "account_id": int(row.account_id),
        "url": row.url,
        "events": list(row.events or []),
        "enabled": bool(row.enabled),
        "created_at": _z(row.created_at),
        "updated_at": _z(row.updated_at),
    }
    if secret:
        out["secret"] = row.secret
    return out


def delivery_json(row: Any) -> dict[str, Any]:
    return {
        "id": int(row.id),
        "delivery_id": row.uuid,
        "event": row.event,
        "run_id": None if row.run_id is None else int(row.run_id),
        "state": row.state,
        "attempts": int(row.attempts),
        "status_code": row.last_status_code,
        "last_error": row.last_error,
        "next_attempt_at": _z(row.next_attempt_at) if row.state == "pending" else None,
        "created_at": _z(row.created_at),
        "delivered_at": _z(row.delivered_at),
    }


def _bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise bad_request(f"{name} must be true or false")


def _values(svc: Services, data: dict[str, Any], creating: bool) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if creating or "url" in data:
        url = data.get("url")
        if not isinstance(url, str) or not url.strip():
            raise bad_request("url is required (an http:// or https:// URL)")
        try:
            check_url(url, svc.settings)
        except AddressRefused as exc:
            raise bad_request(f"invalid url: {exc}") from exc
        values["url"] = url.strip()
    if creating or "events" in data:
        events = data.get("events", list(EVENTS))
        if isinstance(events, str):
            events = [e for e in events.replace(",", " ").split() if e]
        if not isinstance(events, list) or not events or any(e not in EVENTS for e in events):
            raise bad_request(f"events must be a non-empty list of: {', '.join(EVENTS)}")
        values["events"] = [e for e in EVENTS if e in events]
    if creating or "enabled" in data:
        values["enabled"] = _bool(data.get("enabled", True), "enabled")
    return values


def _find(conn: Connection, account: Any, webhook_id: str) -> Any:
    w = report_webhooks.c
    row = conn.execute(
        select(report_webhooks).where(
            w.id == object_id(webhook_id), w.account_id == account.id, w.workflow_state == "active"
        )
    ).first()
    if row is None:
        raise not_found()
    return row


@router.get("", summary="List webhooks", operation_id="list_report_webhooks")
def list_webhooks(account_id: str, request: Request, svc: ServicesDep, user: UserDep) -> Response:
    page = page_of(request)
    w = report_webhooks.c
    with read_conn(svc.engine) as conn:
        account = authorize_account(conn, user, account_id)
        cond = (w.account_id == account.id) & (w.workflow_state == "active")
        total, rows = counted_page(conn, report_webhooks, cond, page, order_by=[w.id])
    body = [webhook_json(r) for r in rows]
    return json_response(body, headers={"Link": link_header(request, page, total)})


def _create(svc: Services, user: CurrentUser, account_id: str, data: dict[str, Any]) -> Any:
    values = _values(svc, data, creating=True)  # resolves DNS: outside the transaction
    now = utcnow()
    with svc.engine.begin() as conn:
        account = authorize_account(conn, user, account_id)
        pk = conn.execute(
            insert(report_webhooks).values(
                account_id=int(account.id),
                user_id=user.id,
                secret=new_secret(),
                workflow_state="active",
                created_at=now,
                updated_at=now,
                **values,
            )
        ).inserted_primary_key
        assert pk is not None
        row = conn.execute(select(report_webhooks).where(report_webhooks.c.id == pk[0])).one()
        return webhook_json(row, secret=True)


@router.post("", summary="Register a webhook", operation_id="create_report_webhook")
async def create_webhook(
    account_id: str, request: Request, svc: ServicesDep, user: UserDep
) -> Response:
    await run_in_threadpool(check_account, svc, user, account_id)
    data = await object_body(request, "report_webhook")
    return json_response(await run_in_threadpool(_create, svc, user, account_id, data))


@router.get("/{webhook_id}", summary="Show a webhook", operation_id="report_webhook")
def show_webhook(account_id: str, webhook_id: str, svc: ServicesDep, user: UserDep) -> Response:
    with read_conn(svc.engine) as conn:
        account = authorize_account(conn, user, account_id)
        return json_response(webhook_json(_find(conn, account, webhook_id)))


def _update(
    svc: Services, user: CurrentUser, account_id: str, webhook_id: str, data: dict[str, Any]
) -> Any:
    values = _values(svc, data, creating=False)
    rotate = _bool(data.get("rotate_secret", False), "rotate_secret")
    if rotate:
        values["secret"] = new_secret()
    now = utcnow()
    with svc.engine.begin() as conn:
        account = authorize_account(conn, user, account_id)
        row = _find(conn, account, webhook_id)
        conn.execute(
            update(report_webhooks)
            .where(report_webhooks.c.id == row.id)
            .values(updated_at=now, **values)
        )
        return webhook_json(_find(conn, account, webhook_id), secret=rotate)


@router.put("/{webhook_id}", summary="Update a webhook", operation_id="update_report_webhook")
async def update_webhook(
    account_id: str, webhook_id: str, request: Request, svc: ServicesDep, user: UserDep
) -> Response:
    await run_in_threadpool(check_account, svc, user, account_id)
    data = await object_body(request, "report_webhook")
    return json_response(await run_in_threadpool(_update, svc, user, account_id, webhook_id, data))


@router.delete("/{webhook_id}", summary="Delete a webhook", operation_id="delete_report_webhook")
def delete_webhook(account_id: str, webhook_id: str, svc: ServicesDep, user: UserDep) -> Response:
    with svc.engine.begin() as conn:
        account = authorize_account(conn, user, account_id)
        row = _find(conn, account, webhook_id)
        conn.execute(
            update(report_webhooks)
            .where(report_webhooks.c.id == row.id)
            .values(workflow_state="deleted", enabled=False, updated_at=utcnow())
        )
    body = webhook_json(row)
    body["workflow_state"] = "deleted"
    return json_response(body)


@router.get(
    "/{webhook_id}/deliveries",
    summary="Delivery log of a webhook",
    operation_id="report_webhook_deliveries",
)
def list_deliveries(
    account_id: str, webhook_id: str, request: Request, svc: ServicesDep, user: UserDep
) -> Response:
    page = page_of(request)
    d = webhook_deliveries.c
    with read_conn(svc.engine) as conn:
        account = authorize_account(conn, user, account_id)
        row = _find(conn, account, webhook_id)
        total, rows = counted_page(
            conn, webhook_deliveries, d.webhook_id == row.id, page, order_by=[d.id.desc()]
        )
    body = [delivery_json(r) for r in rows]
    return json_response(body, headers={"Link": link_header(request, page, total)})
