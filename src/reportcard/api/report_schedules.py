"""reportcard's extension: scheduled reports under ``/api/v1/accounts/:id/report_schedules``.

Not part of Canvas. Same authentication, account addressing, pagination and error bodies as
the Canvas endpoints; ``read_reports`` on the account is needed for everything.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import func, insert, select, update
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from reportcard.api.deps import CurrentUser, Services, ServicesDep, UserDep, authorize_account
from reportcard.api.errors import bad_request, json_response, not_found
from reportcard.api.pagination import link_header, page_of
from reportcard.api.rails_params import ParamError
from reportcard.api.reports import request_parameters
from reportcard.db.engine import read_conn
from reportcard.db.schedule_tables import report_schedules, schedule_firings
from reportcard.notify.schedules import ScheduleError, get_schedule, schedule_json, validate
from reportcard.runs.context import utcnow

router = APIRouter(
    prefix="/api/v1/accounts/{account_id}/report_schedules", tags=["report schedules"]
)

__all__ = ["router"]


async def _body(request: Request) -> dict[str, Any]:
    try:
        sent = await request_parameters(request)
    except ParamError as exc:
        raise bad_request(str(exc)) from exc
    inner = sent.get("report_schedule")
    if isinstance(inner, dict):  # Canvas-style wrapping: report_schedule[report]=...
        return inner
    return sent


def _id(schedule_id: str) -> int:
    if not (schedule_id.isascii() and schedule_id.isdigit() and len(schedule_id) <= 18):
        raise not_found()
    return int(schedule_id)


@router.get("", summary="List report schedules", operation_id="list_report_schedules")
def list_schedules(account_id: str, request: Request, svc: ServicesDep, user: UserDep) -> Response:
    page = page_of(request)
    s = report_schedules.c
    with read_conn(svc.engine) as conn:
        account = authorize_account(conn, user, account_id)
        cond = (s.account_id == account.id) & (s.workflow_state == "active")
        total = conn.execute(
            select(func.count()).select_from(report_schedules).where(cond)
        ).scalar_one()
        rows = conn.execute(
            select(report_schedules)
            .where(cond)
            .order_by(s.id)
            .offset(page.offset)
            .limit(page.per_page)
        ).all()
        body = [schedule_json(conn, r) for r in rows]
    return json_response(body, headers={"Link": link_header(request, page, int(total))})


def _create(svc: Services, user: CurrentUser, account_id: str, data: dict[str, Any]) -> Any:
    now = utcnow()
    with svc.engine.begin() as conn:
        account = authorize_account(conn, user, account_id)
        try:
            values = validate(conn, account, data, now=now)
        except ScheduleError as exc:
            raise bad_request(str(exc)) from exc
        pk = conn.execute(
            insert(report_schedules).values(
                account_id=int(account.id),
                root_account_id=int(account.root_account_id or account.id),
                owner_user_id=user.id,
                workflow_state="active",
                created_at=now,
                **values,
            )
        ).inserted_primary_key
        assert pk is not None
        row = get_schedule(conn, int(account.id), int(pk[0]))
        return schedule_json(conn, row)


@router.post("", summary="Create a report schedule", operation_id="create_report_schedule")
async def create_schedule(
    account_id: str, request: Request, svc: ServicesDep, user: UserDep
) -> Response:
    await run_in_threadpool(_check, svc, user, account_id)
    data = await _body(request)
    return json_response(await run_in_threadpool(_create, svc, user, account_id, data))


def _check(svc: Services, user: CurrentUser, account_id: str) -> None:
    """Authorization comes before anything about the request body."""
    with read_conn(svc.engine) as conn:
        authorize_account(conn, user, account_id)


@router.get("/{schedule_id}", summary="Show a report schedule", operation_id="report_schedule")
def show_schedule(account_id: str, schedule_id: str, svc: ServicesDep, user: UserDep) -> Response:
    with read_conn(svc.engine) as conn:
        account = authorize_account(conn, user, account_id)
        row = get_schedule(conn, int(account.id), _id(schedule_id))
        if row is None:
            raise not_found()
        return json_response(schedule_json(conn, row))


def _update(
    svc: Services, user: CurrentUser, account_id: str, schedule_id: str, data: dict[str, Any]
) -> Any:
    now = utcnow()
    with svc.engine.begin() as conn:
        account = authorize_account(conn, user, account_id)
        row = get_schedule(conn, int(account.id), _id(schedule_id))
        if row is None:
            raise not_found()
        try:
            values = validate(conn, account, data, now=now, existing=row)
        except ScheduleError as exc:
            raise bad_request(str(exc)) from exc
        conn.execute(
            update(report_schedules).where(report_schedules.c.id == row.id).values(**values)
        )
        return schedule_json(conn, get_schedule(conn, int(account.id), int(row.id)))


@router.put(
    "/{schedule_id}", summary="Update a report schedule", operation_id="update_report_schedule"
)
async def update_schedule(
    account_id: str, schedule_id: str, request: Request, svc: ServicesDep, user: UserDep
) -> Response:
    await run_in_threadpool(_check, svc, user, account_id)
    data = await _body(request)
    body = await run_in_threadpool(_update, svc, user, account_id, schedule_id, data)
    return json_response(body)


@router.delete(
    "/{schedule_id}", summary="Delete a report schedule", operation_id="delete_report_schedule"
)
def delete_schedule(account_id: str, schedule_id: str, svc: ServicesDep, user: UserDep) -> Response:
    now = utcnow()
    with svc.engine.begin() as conn:
        account = authorize_account(conn, user, account_id)
        row = get_schedule(conn, int(account.id), _id(schedule_id))
        if row is None:
            raise not_found()
        conn.execute(
            update(report_schedules)
            .where(report_schedules.c.id == row.id)
            .values(workflow_state="deleted", enabled=False, next_run_at=None, updated_at=now)
        )
        body = schedule_json(conn, row)
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
        row = get_schedule(conn, int(account.id), _id(schedule_id))
        if row is None:
            raise not_found()
        total = conn.execute(
            select(func.count()).select_from(schedule_firings).where(f.schedule_id == row.id)
        ).scalar_one()
        firings = conn.execute(
            select(schedule_firings)
            .where(f.schedule_id == row.id)
            .order_by(f.due_at.desc(), f.id.desc())
            .offset(page.offset)
            .limit(page.per_page)
        ).all()
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
    return json_response(body, headers={"Link": link_header(request, page, int(total))})
