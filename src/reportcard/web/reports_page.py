"""The Reports page of an account: every report, its Configure form, its runs, live.

Forms work without JavaScript (each POST answers with a redirect back to the page); htmx
turns them into in-place updates: a submit, abort or delete answers with the report's
section, and an active run polls its own row every second until it ends (the last answer
is status 286, htmx's "stop polling").
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import Connection, select
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from reportcard.audit import record
from reportcard.auth.permissions import IMPORT_SIS_DATA, READ_REPORTS, has_permission
from reportcard.db.engine import read_conn
from reportcard.db.tables import account_reports, accounts
from reportcard.ids import is_id, parse_id
from reportcard.reports.catalog import Report, all_reports, get_report
from reportcard.runs.lifecycle import abort_run, delete_run
from reportcard.service.errors import CanvasError
from reportcard.service.limits import check_start_limits
from reportcard.service.start import root_zone, start_run
from reportcard.web.accounts import breadcrumbs, visible_tree
from reportcard.web.base import (
    Refused,
    SessionDep,
    check_csrf,
    form_data,
    is_htmx,
    page_context,
    redirect,
    render,
    services,
)
from reportcard.web.downloads import download_response
from reportcard.web.forms import ConfigureForm, build_form, read_submission, term_options
from reportcard.web.sessions import WebSession
from reportcard.web.signin import canvas_text
from reportcard.web.views import STATE_WORDS, local_time, recent_runs, run_view

router = APIRouter(include_in_schema=False)

NO_ACCOUNT = "There is no such account, or you may not see its reports."
STOP_POLLING = 286


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def find_account(
    conn: Connection, session: WebSession, account_id: str, permission: str = READ_REPORTS
) -> Any:
    """The account if the signed-in person holds ``permission`` there (else a 404 page).

    An account that exists but is not theirs answers the same 404 as one that does not; only
    the audit log tells them apart (``auth.forbidden``).
    """
    wanted = parse_id(account_id)
    if wanted is None:
        raise Refused(404, NO_ACCOUNT)
    row = conn.execute(select(accounts).where(accounts.c.id == wanted)).first()
    if row is None or row.workflow_state == "deleted":
        raise Refused(404, NO_ACCOUNT)
    if not has_permission(conn, session.user_id, int(row.id), permission):
        raise Refused(
            404,
            NO_ACCOUNT,
            denied=True,
            reason=f"no {permission} on the account",
            user_id=session.user_id,
            account_id=int(row.id),
        )
    return row


def _report(name: str) -> Report:
    report = get_report(name)
    if report is None:
        raise Refused(404, "There is no such report.")
    return report


NO_RUN = "There is no such run of this report (it may have been deleted)."


def _find_run(conn: Connection, session: WebSession, account: Any, report: str, run_id: str) -> Any:
    """The live run of ``report`` in ``account`` (else 404; another account's run id is
    answered alike and recorded as a failed authorization)."""
    r = account_reports.c
    wanted = parse_id(run_id)
    if wanted is None:
        raise Refused(404, NO_RUN)
    row = conn.execute(
        select(account_reports).where(
            r.id == wanted,
            r.account_id == account.id,
            r.report_type == report,
            r.workflow_state != "deleted",
        )
    ).first()
    if row is None:
        elsewhere = conn.execute(
            select(r.account_id).where(r.id == wanted, r.account_id != account.id)
        ).first()
        if elsewhere is not None:
            raise Refused(
                404,
                NO_RUN,
                denied=True,
                reason="run of another account",
                user_id=session.user_id,
                account_id=int(account.id),
            )
        raise Refused(404, NO_RUN)
    return row


def _section(
    conn: Connection,
    account: Any,
    report: Report,
    tz: str,
    form: ConfigureForm | None = None,
    notice: str = "",
) -> dict[str, Any]:
    if form is None:
        root_id = int(account.root_account_id or account.id)
        form = build_form(report, term_options(conn, root_id))
    return {
        "report": report,
        "form": form,
        "runs": recent_runs(conn, int(account.id), report.name, tz),
        "account": account,
        "notice": notice,
        "open": bool(form.errors),
    }


ACTIVITY = 5  # runs in "Recent activity", above the list of reports


def recent_activity(conn: Connection, account_id: int, tz: str) -> list[SimpleNamespace]:
    """The account's latest runs of any report, newest first: seen without scrolling."""
    r = account_reports.c
    rows = conn.execute(
        select(r.id, r.report_type, r.workflow_state, r.created_at, r.end_at, r.current_line)
        .where(r.account_id == account_id, r.workflow_state != "deleted")
        .order_by(r.created_at.desc(), r.id.desc())
        .limit(ACTIVITY)
    ).all()
    out = []
    for row in rows:
        report = get_report(row.report_type)
        lines = int(row.current_line or 0)
        out.append(
            SimpleNamespace(
                id=int(row.id),
                report=row.report_type,
                title=report.title if report is not None else row.report_type,
                state=row.workflow_state,
                state_word=STATE_WORDS.get(row.workflow_state, row.workflow_state),
                when=local_time(row.end_at or row.created_at, tz),
                lines=f"{lines:,} line{'' if lines == 1 else 's'}" if lines else "",
            )
        )
    return out


@router.get("/")
def home() -> Response:
    return redirect("/accounts")


@router.get("/accounts")
def accounts_index(request: Request, session: SessionDep) -> Response:
    svc = services(request)
    with read_conn(svc.engine) as conn:
        tree = visible_tree(conn, session.user_id)
    if tree:
        return redirect(f"/accounts/{tree[0].id}/reports")
    return render(request, "no_accounts.html", page_context(session), status=200)


@router.get("/accounts/switch")
def switch(request: Request, session: SessionDep) -> Response:
    target = request.query_params.get("account_id", "")
    page = request.query_params.get("page", "reports")
    if not is_id(target):
        return redirect("/accounts")
    return redirect(f"/accounts/{target}/{'sis_import' if page == 'sis_import' else 'reports'}")


@router.get("/accounts/{account_id}/reports")
def reports_page(account_id: str, request: Request, session: SessionDep) -> Response:
    svc = services(request)
    with read_conn(svc.engine) as conn:
        account = find_account(conn, session, account_id)
        tz = root_zone(conn, account)
        root_id = int(account.root_account_id or account.id)
        terms = term_options(conn, root_id)
        sections = [
            _section(conn, account, rep, tz, build_form(rep, terms))
            for rep in sorted(all_reports().values(), key=lambda r: r.title)
        ]
        context = page_context(
            session,
            account=account,
            crumbs=breadcrumbs(conn, int(account.id)),
            choices=visible_tree(conn, session.user_id),
            sections=sections,
            activity=recent_activity(conn, int(account.id), tz),
            can_import=account.root_account_id is None
            and has_permission(conn, session.user_id, int(account.id), IMPORT_SIS_DATA),
            page="reports",
        )
    return render(request, "reports.html", context)


def _answer(
    request: Request, session: WebSession, section: dict[str, Any], status: int = 200
) -> Response:
    """An htmx request gets the report's section; a plain form post goes back to the page."""
    if is_htmx(request):
        return render(request, "_report.html", page_context(session, s=section), status=status)
    if status != 200:
        return render(request, "report_alone.html", page_context(session, s=section), status=status)
    account = section["account"]
    return redirect(f"/accounts/{account.id}/reports#report-{section['report'].name}")


@router.post("/accounts/{account_id}/reports/{report_name}")
async def start(
    account_id: str, report_name: str, request: Request, session: SessionDep
) -> Response:
    svc = services(request)
    data = await form_data(request)
    check_csrf(request, session, data)

    def limited() -> str:
        """The API's limits on starting runs (queue size, start rate) hold here too."""
        with read_conn(svc.engine) as conn:
            account = find_account(conn, session, account_id)
        who = SimpleNamespace(id=session.user_id, token_id=None)
        try:
            check_start_limits(svc.engine, svc.settings, account, who, client_ip(request))
        except CanvasError as exc:
            return canvas_text(exc.body) or "Too many reports at once; try again later."
        return ""

    refusal = await run_in_threadpool(limited)

    def create() -> tuple[dict[str, Any], int | None, int]:
        report = _report(report_name)
        with svc.engine.begin() as conn:
            account = find_account(conn, session, account_id)
            tz = root_zone(conn, account)
            root_id = int(account.root_account_id or account.id)
            form = build_form(report, term_options(conn, root_id))
            params = read_submission(form, data)
            if form.errors:
                return _section(conn, account, report, tz, form), None, 422
            if refusal:
                form.errors["form"] = refusal
                return _section(conn, account, report, tz, form), None, 429
            try:
                run, duplicate = start_run(
                    conn, svc.settings, account, session.user_id, report.name, params
                )
            except CanvasError as exc:
                form.errors["form"] = canvas_text(exc.body) or "The report could not be started."
                return _section(conn, account, report, tz, form), None, 422
            if duplicate:
                notice = "The same report with the same settings is already running: see below."
                return _section(conn, account, report, tz, notice=notice), None, 200
            record(
                conn,
                user_id=session.user_id,
                action="report.start",
                account_id=int(account.id),
                subject_type="AccountReport",
                subject_id=int(run.id),
                detail={"report": report.name, "via": "web"},
                ip=client_ip(request),
            )
            notice = f"{report.title} report started."
            return _section(conn, account, report, tz, notice=notice), int(run.id), 200

    section, run_id, status = await run_in_threadpool(create)
    if run_id is not None:
        await run_in_threadpool(svc.run_created, run_id)
    return _answer(request, session, section, status)


@router.get("/accounts/{account_id}/reports/{report_name}/runs/{run_id}")
def run_status(
    account_id: str, report_name: str, run_id: str, request: Request, session: SessionDep
) -> Response:
    svc = services(request)
    with read_conn(svc.engine) as conn:
        account = find_account(conn, session, account_id)
        run = run_view(
            conn, _find_run(conn, session, account, report_name, run_id), root_zone(conn, account)
        )
    status = 200 if run.active or not is_htmx(request) else STOP_POLLING
    # The poll that sees the run end also removes the report's notice ("... started."), stale now.
    context = page_context(session, run=run, account=account, ended_now=status == STOP_POLLING)
    return render(request, "_run.html", context, status)


def _change(
    request: Request,
    session: WebSession,
    account_id: str,
    report_name: str,
    run_id: str,
    action: str,
) -> dict[str, Any]:
    svc = services(request)
    report = _report(report_name)
    with svc.engine.begin() as conn:
        account = find_account(conn, session, account_id)
        run = _find_run(conn, session, account, report.name, run_id)
        done = (abort_run if action == "abort" else delete_run)(conn, int(run.id))
        if done:
            record(
                conn,
                user_id=session.user_id,
                action=f"report.{action}",
                account_id=int(account.id),
                subject_type="AccountReport",
                subject_id=int(run.id),
                detail={"report": report.name, "via": "web"},
                ip=client_ip(request),
            )
            notice = f"Run {run.id} {'aborted' if action == 'abort' else 'deleted'}."
        else:
            notice = f"Run {run.id} has already ended; it was not aborted."
        return _section(conn, account, report, root_zone(conn, account), notice=notice)


@router.post("/accounts/{account_id}/reports/{report_name}/runs/{run_id}/abort")
async def abort(
    account_id: str, report_name: str, run_id: str, request: Request, session: SessionDep
) -> Response:
    data = await form_data(request)
    check_csrf(request, session, data)
    section = await run_in_threadpool(
        _change, request, session, account_id, report_name, run_id, "abort"
    )
    services(request).wake()
    return _answer(request, session, section)


@router.post("/accounts/{account_id}/reports/{report_name}/runs/{run_id}/delete")
async def delete(
    account_id: str, report_name: str, run_id: str, request: Request, session: SessionDep
) -> Response:
    data = await form_data(request)
    check_csrf(request, session, data)
    section = await run_in_threadpool(
        _change, request, session, account_id, report_name, run_id, "delete"
    )
    return _answer(request, session, section)


@router.get("/accounts/{account_id}/reports/{report_name}/runs/{run_id}/download")
def download(
    account_id: str, report_name: str, run_id: str, request: Request, session: SessionDep
) -> Response:
    svc = services(request)
    with svc.engine.begin() as conn:
        account = find_account(conn, session, account_id)
        run = _find_run(conn, session, account, report_name, run_id)
        if run.workflow_state != "complete" or run.attachment_id is None:
            raise Refused(404, "This run has no file to download.")
        record(
            conn,
            user_id=session.user_id,
            action="report.download",
            account_id=int(account.id),
            subject_type="AccountReport",
            subject_id=int(run.id),
            detail={"report": report_name, "via": "web"},
            ip=client_ip(request),
        )
        attachment_id = int(run.attachment_id)
    return download_response(svc, attachment_id)
