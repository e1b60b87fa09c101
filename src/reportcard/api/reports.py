"""The Canvas Account Reports endpoints under ``/api/v1/accounts/:account_id/reports``."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import Connection, bindparam, select
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from reportcard import audit
from reportcard.api import status
from reportcard.api.audit_events import client_ip
from reportcard.api.entries import catalog_entries, run_entry
from reportcard.api.pagination import counted_page, link_header, page_of, url_path
from reportcard.api.rails_params import (
    MAX_DEPTH,
    ParamError,
    check_depth,
    deep_merge,
    parse_pairs,
    too_deep,
)
from reportcard.auth.tokens import hash_token, note_used
from reportcard.clock import utcnow
from reportcard.db.engine import read_conn
from reportcard.db.tables import account_reports, attachments, users
from reportcard.ids import is_id
from reportcard.runs.lifecycle import abort_run, delete_run
from reportcard.runs.start import QueueFull
from reportcard.service.deps import (
    CurrentUser,
    Services,
    ServicesDep,
    UserDep,
    authenticate,
    authorize_account,
    find_account,
    presented_token,
)
from reportcard.service.errors import bad_request, json_response, not_found
from reportcard.service.limits import check_start_limits, queue_refused
from reportcard.service.serializers import report_json
from reportcard.service.start import root_zone, start_run
from reportcard.service.urls import base_url

router = APIRouter(prefix="/api/v1/accounts/{account_id}/reports", tags=["reports"])


_ATTACHMENT = select(attachments).where(attachments.c.id == bindparam("id"))
_USER = select(users).where(users.c.id == bindparam("id"))


@router.get("", summary="List Available Reports", operation_id="list_available_reports")
def available_reports(
    account_id: str, request: Request, svc: ServicesDep, user: UserDep
) -> Response:
    include = set(request.query_params.getlist("include[]")) | set(
        request.query_params.getlist("include")
    )
    with read_conn(svc.engine) as conn:
        account = authorize_account(conn, user, account_id)
        tz = root_zone(conn, account)
        entries = catalog_entries(conn, base_url(request), account, tz, svc.links, include)
    return json_response(entries)


async def request_parameters(request: Request) -> dict[str, Any]:
    """Everything the client sent, merged as Rails does: query string, then the body."""
    merged = parse_pairs(request.query_params.multi_items())
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await request.body()
    if not body:
        return merged
    if ctype in ("application/json", "text/json") or (
        not ctype and body.lstrip()[:1] in (b"{", b"[")
    ):
        try:
            data = json.loads(body)
        except RecursionError as exc:  # nested ~1000 deep: deeper than any limit
            raise too_deep(MAX_DEPTH) from exc
        except (ValueError, UnicodeDecodeError) as exc:
            raise bad_request(f"The request body is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise bad_request("The request body must be a JSON object.")
        check_depth(data)
        return deep_merge(merged, data)
    if ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        try:
            form = await request.form()
        except Exception as exc:
            raise bad_request(f"The request body could not be read: {exc}") from exc
        pairs = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
        return deep_merge(merged, parse_pairs(pairs))
    return merged


@router.post("/{report}", summary="Start a Report", operation_id="start_report")
async def start_report(
    account_id: str, report: str, request: Request, svc: ServicesDep, user: UserDep
) -> Response:
    def check() -> None:
        with read_conn(svc.engine) as conn:
            account = authorize_account(conn, user, account_id)
        check_start_limits(svc.engine, svc.settings, account, user, client_ip(request))

    await run_in_threadpool(check)
    try:
        sent = await request_parameters(request)
    except ParamError as exc:
        raise bad_request(str(exc)) from exc
    raw = sent.get("parameters")
    if raw is not None and not isinstance(raw, dict):
        raise bad_request("parameters must be a hash of report parameters.")
    params: dict[str, Any] = dict(raw or {})
    status, body, headers = await run_in_threadpool(
        _create, svc, request, user, account_id, report, params, raw is not None
    )
    if status == 200:
        await run_in_threadpool(svc.run_created, body["id"])
    return json_response(body, status, headers)


def _create(
    svc: Any,
    request: Request,
    user: CurrentUser,
    account_id: str,
    report: str,
    params: dict[str, Any],
    sent: bool,
) -> tuple[int, dict[str, Any], dict[str, str] | None]:
    try:
        return _create_in_transaction(svc, request, user, account_id, report, params, sent)
    except QueueFull as exc:  # lost a race for the last place: recorded after the rollback
        with read_conn(svc.engine) as conn:
            account = find_account(conn, user, account_id)
        raise queue_refused(svc.engine, exc, account, user, client_ip(request)) from exc


def _create_in_transaction(
    svc: Any,
    request: Request,
    user: CurrentUser,
    account_id: str,
    report: str,
    params: dict[str, Any],
    sent: bool,
) -> tuple[int, dict[str, Any], dict[str, str] | None]:
    with svc.engine.begin() as conn:
        account = authorize_account(conn, user, account_id)
        run, duplicate = start_run(
            conn, svc.settings, account, user.id, report, params, sent, queue_errors=False
        )
        if not duplicate:
            audit.record(
                conn,
                user_id=user.id,
                action="report.start",
                account_id=int(account.id),
                subject_type="account_report",
                subject_id=int(run.id),
                detail={"report": report, "parameters": params},
                ip=client_ip(request),
            )
        tz = root_zone(conn, account)
        base = base_url(request)
        if duplicate:
            path = url_path(f"/api/v1/accounts/{account_id}/reports/{report}/{run.id}")
            location = f"{base}{path}"
            return 409, run_entry(conn, base, run, tz, svc.links), {"Location": location}
        return 200, run_entry(conn, base, run, tz, svc.links), None


@router.get("/{report}", summary="Index of Reports", operation_id="index_of_reports")
def index_of_reports(
    account_id: str, report: str, request: Request, svc: ServicesDep, user: UserDep
) -> Response:
    page = page_of(request)
    with read_conn(svc.engine) as conn:
        account = authorize_account(conn, user, account_id)
        tz = root_zone(conn, account)
        cond = (
            (account_reports.c.account_id == account.id)
            & (account_reports.c.report_type == report)
            & (account_reports.c.workflow_state != "deleted")
        )
        order = [account_reports.c.created_at.desc(), account_reports.c.id.desc()]
        total, rows = counted_page(conn, account_reports, cond, page, order_by=order)
        base = base_url(request)
        body = [run_entry(conn, base, r, tz, svc.links) for r in rows]
    return json_response(body, headers={"Link": link_header(request, page, total)})


_RUN = select(account_reports).where(
    account_reports.c.id == bindparam("id"),
    account_reports.c.account_id == bindparam("account"),
    account_reports.c.report_type == bindparam("report"),
    account_reports.c.workflow_state != "deleted",
)


def _find_run(conn: Connection, account: Any, report: str, run_id: str) -> Any:
    if not is_id(run_id):
        raise not_found()
    run = conn.execute(_RUN, {"id": int(run_id), "account": account.id, "report": report}).first()
    if run is None:
        raise not_found()
    return run


@router.get("/{report}/{run_id}", summary="Status of a Report", operation_id="report_status")
async def report_status(account_id: str, report: str, run_id: str, request: Request) -> Response:
    """Pollers' endpoint: one query when the account is numeric and all is well."""
    svc: Services = request.app.state.services
    token = presented_token(request)
    if token is not None and is_id(account_id) and is_id(run_id):
        with read_conn(svc.engine) as conn:
            found = status.fetch(conn, hash_token(token), int(account_id), report, int(run_id))
            if found is not None:
                row, parts = found
                fine = (
                    row.tok_state == "active"
                    and (row.tok_expires_at is None or row.tok_expires_at > utcnow())
                    and row.acct_id is not None
                    and row.acct_state != "deleted"
                    and row.allowed
                )
                if fine and parts["run"] is None:
                    raise not_found()
                if fine:
                    note_used(svc.engine, hash_token(token))
                    user = parts["ru"]
                    tz = (user.time_zone if user is not None else None) or row.zone or "UTC"
                    body = report_json(
                        base_url(request),
                        parts["run"],
                        tz=tz,
                        attachment=parts["att"],
                        user=user,
                        now=utcnow(),
                        links=svc.links,
                    )
                    return json_response(body)
    # Anything unusual (no token, a bad one, `self`, no permission...) takes the general path.
    with read_conn(svc.engine) as conn:
        user = authenticate(conn, token, svc.engine)
        account = authorize_account(conn, user, account_id)
        run = _find_run(conn, account, report, run_id)
        zone = root_zone(conn, account)
        return json_response(run_entry(conn, base_url(request), run, zone, svc.links))


def _change(
    account_id: str,
    report: str,
    run_id: str,
    request: Request,
    svc: Any,
    user: CurrentUser,
    action: str,
) -> Response:
    with svc.engine.begin() as conn:
        account = authorize_account(conn, user, account_id)
        run = _find_run(conn, account, report, run_id)
        done = (abort_run if action == "abort" else delete_run)(conn, int(run.id))
        if not done:
            raise not_found()
        audit.record(
            conn,
            user_id=user.id,
            action=f"report.{action}",
            account_id=int(account.id),
            subject_type="account_report",
            subject_id=int(run.id),
            detail={"report": report},
            ip=client_ip(request),
        )
        run = conn.execute(select(account_reports).where(account_reports.c.id == run.id)).one()
        body = run_entry(conn, base_url(request), run, root_zone(conn, account), svc.links)
    svc.wake()
    return json_response(body)


@router.delete("/{report}/{run_id}", summary="Delete a Report", operation_id="delete_report")
def delete_report(
    account_id: str, report: str, run_id: str, request: Request, svc: ServicesDep, user: UserDep
) -> Response:
    return _change(account_id, report, run_id, request, svc, user, "delete")


@router.put("/{report}/{run_id}/abort", summary="Abort a Report", operation_id="abort_report")
def abort_report(
    account_id: str, report: str, run_id: str, request: Request, svc: ServicesDep, user: UserDep
) -> Response:
    return _change(account_id, report, run_id, request, svc, user, "abort")
