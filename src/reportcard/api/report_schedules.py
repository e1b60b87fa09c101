"""reportcard's extension: scheduled reports under ``/api/v1/accounts/:id/report_schedules``.

Not part of Canvas. Same authentication, account addressing, pagination and error bodies as
the Canvas endpoints; ``read_reports`` on the account is needed for everything.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from reportcard.api.audit_events import client_ip
from reportcard.api.owned_objects import check_account, object_body, object_id
from reportcard.api.pagination import counted_page, link_header, page_of
from reportcard.clock import utcnow
from reportcard.db.engine import read_conn
from reportcard.db.schedule_tables import report_schedules, schedule_firings
from reportcard.notify.schedules import (
    ScheduleError,
    get_schedule,
    insert_schedule,
    record_change,
    schedule_json,
    validate,
)
from reportcard.notify.schedules import delete_schedule as store_deletion
from reportcard.notify.schedules import update_schedule as store_update
from reportcard.service.deps import CurrentUser, Services, ServicesDep, UserDep, authorize_account
from reportcard.service.errors import bad_request, json_response, not_found

router = APIRouter(
    prefix="/api/v1/accounts/{account_id}/report_schedules", tags=["report schedules"]
)

__all__ = ["router"]


def _find(conn: Connection, account: Any, schedule_id: str) -> Any:
    """The account's active schedule of that id, or a 404."""
    row = get_schedule(conn, int(account.id), object_id(schedule_id))
    if row is None:
        raise not_found()
    return row


@router.get("", summary="List report schedules", operation_id="list_report_schedules")
def list_schedules(account_id: str, request: Request, svc: ServicesDep, user: UserDep) -> Response:
    page = page_of(request)
    s = report_schedules.c
    with read_conn(svc.engine) as conn:
        account = authorize_account(conn, user, account_id)
        cond = (s.account_id == account.id) & (s.workflow_state == "active")
        total, rows = counted_page(conn, report_schedules, cond, page, order_by=[s.id])
        body = [schedule_json(conn, r, mail_configured=bool(svc.settings.smtp_host)) for r in rows]
    return json_response(body, headers={"Link": link_header(request, page, total)})


def _create(
    svc: Services, user: CurrentUser, account_id: str, data: dict[str, Any], ip: str | None
) -> Any:
    now = utcnow()
    with svc.engine.begin() as conn:
        account = authorize_account(conn, user, account_id)
        try:
            values = validate(conn, account, data, now=now)
        except ScheduleError as exc:
            raise bad_request(str(exc)) from exc
        pk = insert_schedule(conn, account, user.id, values, now)
        record_change(
            conn, user_id=user.id, action="schedule.create", account_id=int(account.id),
            schedule_id=pk, report=values["report_type"], via="api", ip=ip,
        )  # fmt: skip
        row = get_schedule(conn, int(account.id), pk)
        return schedule_json(conn, row, mail_configured=bool(svc.settings.smtp_host))


@router.post("", summary="Create a report schedule", operation_id="create_report_schedule")
async def create_schedule(
    account_id: str, request: Request, svc: ServicesDep, user: UserDep
) -> Response:
    await run_in_threadpool(check_account, svc, user, account_id)
    data = await object_body(request, "report_schedule")
    body = await run_in_threadpool(_create, svc, user, account_id, data, client_ip(request))
    return json_response(body)


@router.get("/{schedule_id}", summary="Show a report schedule", operation_id="report_schedule")
def show_schedule(account_id: str, schedule_id: str, svc: ServicesDep, user: UserDep) -> Response:
    with read_conn(svc.engine) as conn:
        account = authorize_account(conn, user, account_id)
        row = _find(conn, account, schedule_id)
        return json_response(schedule_json(conn, row, mail_configured=bool(svc.settings.smtp_host)))


def _update(
    svc: Services,
    user: CurrentUser,
    account_id: str,
    schedule_id: str,
    data: dict[str, Any],
    ip: str | None,
) -> Any:
    now = utcnow()
    with svc.engine.begin() as conn:
        account = authorize_account(conn, user, account_id)
        row = _find(conn, account, schedule_id)
        try:
            values = validate(conn, account, data, now=now, existing=row)
        except ScheduleError as exc:
            raise bad_request(str(exc)) from exc
        store_update(conn, int(row.id), values)
        record_change(
            conn, user_id=user.id, action="schedule.update", account_id=int(account.id),
            schedule_id=int(row.id), report=str(values.get("report_type", row.report_type)),
            via="api", ip=ip, changed=[k for k in data if isinstance(k, str)],
        )  # fmt: skip
        return schedule_json(
            conn,
            get_schedule(conn, int(account.id), int(row.id)),
            mail_configured=bool(svc.settings.smtp_host),
        )


@router.put(
    "/{schedule_id}", summary="Update a report schedule", operation_id="update_report_schedule"
)
async def update_schedule(
    account_id: str, schedule_id: str, request: Request, svc: ServicesDep, user: UserDep
) -> Response:
    await run_in_threadpool(check_account, svc, user, account_id)
    data = await object_body(request, "report_schedule")
    body = await run_in_threadpool(
        _update, svc, user, account_id, schedule_id, data, client_ip(request)
    )
    return json_response(body)


@router.delete(
    "/{schedule_id}", summary="Delete a report schedule", operation_id="delete_report_schedule"
)
def delete_schedule(
    account_id: str, schedule_id: str, request: Request, svc: ServicesDep, user: UserDep
) -> Response:
    now = utcnow()
    with svc.engine.begin() as conn:
        account = authorize_account(conn, user, account_id)
        row = _find(conn, account, schedule_id)
        store_deletion(conn, int(row.id), now)
        record_change(
            conn, user_id=user.id, action="schedule.delete", account_id=int(account.id),
            schedule_id=int(row.id), report=str(row.report_type), via="api",
            ip=client_ip(request),
        )  # fmt: skip
        body = schedule_json(conn, row, mail_configured=bool(svc.settings.smtp_host))
    body["workflow_state"] = "deleted"
    return json_response(body)


@router.get(
    "/{schedule_id}/firings",
    summary="Firings of a report schedule",
    operation_id="report_schedule_firings",
)
def list_firings(
    account_id: str, schedule_id: str, request: Request, svc: ServicesDep, user: UserDep
) -> Response:
    page = page_of(request)
    f = schedule_firings.c
    with read_conn(svc.engine) as conn:
        account = authorize_account(conn, user, account_id)
        row = _find(conn, account, schedule_id)
        total, firings = counted_page(
            conn,
            schedule_firings,
            f.schedule_id == row.id,
            page,
            order_by=[f.due_at.desc(), f.id.desc()],
        )
    body = [
        {
            "id": int(x.id),
            "due_at": x.due_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "fired_at": x.fired_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "outcome": x.outcome,
            "run_id": None if x.run_id is None else int(x.run_id),
            "message": x.message,
            "delivery": x.delivery,
        }
        for x in firings
    ]
    return json_response(body, headers={"Link": link_header(request, page, total)})
