"""The schedules of a report on the Reports page: list, create, enable/disable, delete.

One page per report of an account (``/accounts/:id/reports/:report/schedules``), linked from
the report's section. The create form is the report's Configure form plus the recurrence,
time zone, recipients and empty-report choice; the checks are the API's
(:func:`reportcard.notify.schedules.validate`), and so is the storing. Every form is a plain
POST answered with a redirect (no JavaScript needed); deleting asks first on a page of its own.
Changes are recorded in the audit log (``schedule.create``, ``schedule.update``,
``schedule.delete``, ``"via": "web"``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from types import SimpleNamespace
from typing import Any
from zoneinfo import available_timezones

from fastapi import APIRouter, Request
from sqlalchemy import Connection, select
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from reportcard.clock import utcnow
from reportcard.db.engine import read_conn
from reportcard.db.notify_tables import outbox_messages
from reportcard.db.schedule_tables import report_schedules, schedule_firings
from reportcard.ids import parse_id
from reportcard.notify.recurrence import WEEKDAYS
from reportcard.notify.schedules import (
    ScheduleError,
    account_zone,
    delete_schedule,
    get_schedule,
    insert_schedule,
    mail_warning,
    record_change,
    schedule_json,
    update_schedule,
    validate,
)
from reportcard.reports.catalog import Report, get_report
from reportcard.timezones import RAILS_ZONES
from reportcard.web.accounts import breadcrumbs, visible_tree
from reportcard.web.base import (
    Refused,
    SessionDep,
    check_csrf,
    form_data,
    page_context,
    redirect,
    render,
    services,
)
from reportcard.web.forms import ConfigureForm, build_form, read_submission, term_options
from reportcard.web.reports_page import client_ip, find_account
from reportcard.web.sessions import WebSession
from reportcard.web.views import local_time

router = APIRouter(include_in_schema=False)

FREQUENCIES = (
    ("daily", "Every day"),
    ("weekdays", "Monday to Friday"),
    ("weekly", "Every week"),
    ("monthly", "Every month"),
    ("cron", "Cron expression"),
)
EMPTY_CHOICES = (
    ("send", "Send it as usual"),
    ("note", "Send a note saying it was empty"),
    ("skip", "Send nothing"),
)
EMPTY_WORDS = {"send": "sent as usual", "note": "a note is sent", "skip": "nothing is sent"}
OUTCOME_WORDS = {"started": "Started", "refused": "Refused", "failed": "Not started"}
# What the firing decided; for "sent" and "note" the outbox then says what really happened
# (:func:`_mail_words`): a message only counts as mailed once the mailer sent it.
DELIVERY_WORDS = {
    "sent": "report",
    "note": "empty: note",
    "skipped": "empty: nothing mailed",
    "run_failed": "the run failed",
    "cancelled": "schedule deleted meanwhile",
}
FIRINGS_SHOWN = 10
DONE_WORDS = {
    "created": "Schedule created.",
    "enabled": "Schedule enabled.",
    "disabled": "Schedule disabled.",
    "deleted": "Schedule deleted.",
}
NO_SCHEDULE = "There is no such schedule of this report (it may have been deleted)."


@lru_cache(maxsize=1)
def zone_names() -> tuple[str, ...]:
    """Suggestions for the zone field: Rails names (as Canvas shows them), then IANA names."""
    iana = sorted(z for z in available_timezones() if "/" in z or z == "UTC")
    return (*sorted(RAILS_ZONES), *iana)


@dataclass
class ScheduleForm:
    """The create form: the report's Configure form and the schedule's own fields."""

    configure: ConfigureForm
    values: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class FiringView:
    due: str
    fired: str
    outcome: str
    delivery: str
    run_id: int | None
    message: str


@dataclass(frozen=True)
class ScheduleView:
    id: int
    description: str
    time_zone: str
    next_run: str
    next_run_account: str
    recipients: list[str]
    empty: str
    enabled: bool
    owner: str
    settings: list[tuple[str, str]]
    firings: list[FiringView]
    warning: str = ""


def _report(name: str) -> Report:
    report = get_report(name)
    if report is None:
        raise Refused(404, "There is no such report.")
    return report


def _blank(conn: Connection, account: Any, report: Report) -> ScheduleForm:
    root_id = int(account.root_account_id or account.id)
    configure = build_form(report, term_options(conn, root_id))
    values = {
        "frequency": "daily",
        "time": "06:00",
        "day_of_week": "monday",
        "day_of_month": "1",
        "cron": "",
        "time_zone": account_zone(conn, int(account.id)),
        "recipients": "",
        "empty_report": "send",
        "enabled": "true",
    }
    return ScheduleForm(configure, values)


def _settings(form: ConfigureForm, params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The stored parameters as label/value pairs, in the form's words."""
    out: list[tuple[str, str]] = []
    files = [f.label for f in form.files if str(params.get(f.name, "")).lower() == "true"]
    if files:
        out.append(("Files", ", ".join(files)))
    for fld in form.fields:
        if fld.name not in params or fld.is_file:
            continue
        value = str(params[fld.name])
        if fld.kind == "checkbox":
            out.append((fld.label, "yes" if value.lower() in ("true", "1", "on") else value))
        elif fld.options:
            words = dict(fld.options)
            shown = ", ".join(words.get(v, v) for v in value.split(","))
            out.append((fld.label, shown))
        else:
            out.append((fld.label, value))
    known = {f.name for f in form.fields}
    for key in sorted(params):
        if key not in known:
            out.append((key, str(params[key])))
    return out


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _mail_words(states: list[tuple[str, str | None]], mail_configured: bool) -> str:
    """The outbox's truth about one run's messages: queued, sent or failed (with why)."""
    if not states:
        return "no recipients, nothing mailed"
    total = len(states)
    sent = sum(1 for state, _ in states if state == "sent")
    failed = [error for state, error in states if state == "failed"]
    waiting = total - sent - len(failed)
    parts = []
    if sent:
        parts.append(
            "mailed to all " + _plural(total, "recipient") if sent == total else f"{sent} sent"
        )
    if waiting:
        why = "" if mail_configured else " (no mail server is configured)"
        parts.append(f"{waiting} of {_plural(total, 'email')} queued in the outbox{why}")
    if failed:
        last = next((e for e in reversed(failed) if e), "")
        parts.append(f"{len(failed)} failed" + (f" ({last})" if last else ""))
    return ", ".join(parts)


def _firings(
    conn: Connection, schedule_id: int, tz: str, mail_configured: bool
) -> list[FiringView]:
    f = schedule_firings.c
    rows = conn.execute(
        select(schedule_firings)
        .where(f.schedule_id == schedule_id)
        .order_by(f.due_at.desc(), f.id.desc())
        .limit(FIRINGS_SHOWN)
    ).all()
    run_ids = [int(r.run_id) for r in rows if r.run_id is not None]
    mail: dict[int, list[tuple[str, str | None]]] = {}
    if run_ids:
        o = outbox_messages.c
        for m in conn.execute(
            select(o.run_id, o.state, o.last_error)
            .where(o.run_id.in_(run_ids), o.kind == "schedule")
            .order_by(o.id)
        ):
            mail.setdefault(int(m.run_id), []).append((str(m.state), m.last_error))
    views = []
    for r in rows:
        delivery = DELIVERY_WORDS.get(r.delivery or "", r.delivery or "run not ended yet")
        if r.delivery in ("sent", "note") and r.run_id is not None:
            delivery += ": " + _mail_words(mail.get(int(r.run_id), []), mail_configured)
        views.append(
            FiringView(
                due=local_time(r.due_at, tz),
                fired=local_time(r.fired_at, tz),
                outcome=OUTCOME_WORDS.get(r.outcome, r.outcome),
                delivery=delivery,
                run_id=None if r.run_id is None else int(r.run_id),
                message=r.message or "",
            )
        )
    return views


def _views(
    conn: Connection, account: Any, report: Report, form: ConfigureForm, mail_configured: bool
) -> list[Any]:
    s = report_schedules.c
    rows = conn.execute(
        select(report_schedules)
        .where(
            s.account_id == account.id,
            s.report_type == report.name,
            s.workflow_state == "active",
        )
        .order_by(s.id)
    ).all()
    own_zone = account_zone(conn, int(account.id))
    views = []
    for row in rows:
        data = schedule_json(conn, row)
        tz = str(data["time_zone"])
        next_run = local_time(row.next_run_at, tz) if row.next_run_at is not None else ""
        other = ""
        if row.next_run_at is not None and tz != own_zone:
            other = local_time(row.next_run_at, own_zone)
        owner = data["owner"]
        views.append(
            ScheduleView(
                id=int(row.id),
                description=str(data["description"]),
                time_zone=tz,
                next_run=next_run,
                next_run_account=other,
                recipients=list(data["recipients"]),
                empty=EMPTY_WORDS.get(row.empty_report, row.empty_report),
                enabled=bool(row.enabled),
                owner="(deleted user)" if owner is None else str(owner["display_name"]),
                settings=_settings(form, data["parameters"]),
                firings=_firings(conn, int(row.id), tz, mail_configured),
                warning=mail_warning(mail_configured, row.recipients) or "",
            )
        )
    return views


def _page(
    request: Request,
    session: WebSession,
    conn: Connection,
    account: Any,
    report: Report,
    form: ScheduleForm,
    notice: str = "",
    status: int = 200,
) -> Response:
    mail_configured = bool(services(request).settings.smtp_host)
    context = page_context(
        session,
        account=account,
        report=report,
        crumbs=breadcrumbs(conn, int(account.id)),
        choices=visible_tree(conn, session.user_id),
        page="reports",
        schedules=_views(conn, account, report, build_form(report, []), mail_configured),
        mail_configured=mail_configured,
        sform=form,
        form=form.configure,
        p="sched--",
        frequencies=FREQUENCIES,
        weekdays=WEEKDAYS,
        empty_choices=EMPTY_CHOICES,
        zones=zone_names(),
        notice=notice,
        base=f"/accounts/{account.id}/reports/{report.name}/schedules",
    )
    return render(request, "schedules.html", context, status=status)


@router.get("/accounts/{account_id}/reports/{report_name}/schedules")
def schedules_page(
    account_id: str, report_name: str, request: Request, session: SessionDep
) -> Response:
    svc = services(request)
    report = _report(report_name)
    notice = DONE_WORDS.get(request.query_params.get("done", ""), "")
    with read_conn(svc.engine) as conn:
        account = find_account(conn, session, account_id)
        return _page(request, session, conn, account, report, _blank(conn, account, report), notice)


def _first(data: Mapping[str, list[Any]], name: str) -> str:
    got = data.get(name) or []
    return str(got[0]).strip() if got and isinstance(got[0], str) else ""


def schedule_input(
    data: Mapping[str, list[Any]], params: dict[str, Any], report: str, account_zone_name: str
) -> tuple[dict[str, str], dict[str, Any]]:
    """The submitted schedule fields (to show again) and the API-shaped body to validate."""
    names = ("frequency", "time", "day_of_week", "day_of_month", "cron", "time_zone")
    values = {n: _first(data, n) for n in names}
    values["recipients"] = _first(data, "recipients")
    values["empty_report"] = _first(data, "empty_report") or "send"
    values["enabled"] = "true" if _first(data, "enabled") else ""
    freq = values["frequency"]
    recurrence: dict[str, Any] = {"frequency": freq}
    if freq != "cron":
        recurrence["time"] = values["time"] or None
    if freq == "weekly":
        recurrence["day_of_week"] = values["day_of_week"] or None
    if freq == "monthly":
        recurrence["day_of_month"] = values["day_of_month"] or None
    if freq == "cron":
        recurrence["cron"] = values["cron"] or None
    zone = values["time_zone"]
    body = {
        "report": report,
        "parameters": params,
        "recurrence": recurrence,
        # The account's own zone is stored as "follow the account" (NULL).
        "time_zone": None if zone in ("", account_zone_name) else zone,
        "recipients": values["recipients"],
        "empty_report": values["empty_report"],
        "enabled": bool(values["enabled"]),
    }
    return values, body


@router.post("/accounts/{account_id}/reports/{report_name}/schedules")
async def create(
    account_id: str, report_name: str, request: Request, session: SessionDep
) -> Response:
    svc = services(request)
    data = await form_data(request)
    check_csrf(request, session, data)
    ip = client_ip(request)

    def work() -> Response:
        report = _report(report_name)
        now = utcnow()
        with svc.engine.begin() as conn:
            account = find_account(conn, session, account_id)
            form = _blank(conn, account, report)
            params = read_submission(form.configure, data)
            own_zone = account_zone(conn, int(account.id))
            form.values, body = schedule_input(data, params, report.name, own_zone)
            form.errors = list(form.configure.errors.values())
            # Every mistake at once: each part of the schedule is checked on its own.
            form.errors += every_error(conn, account, body, now, params_ok=not form.errors)
            values: dict[str, Any] = {}
            if not form.errors:
                try:
                    values = validate(conn, account, body, now=now)
                except ScheduleError as exc:
                    form.errors.append(_sentence(str(exc)))
            if form.errors:
                return _page(request, session, conn, account, report, form, status=422)
            sid = insert_schedule(conn, account, session.user_id, values, now)
            record_change(
                conn, user_id=session.user_id, action="schedule.create",
                account_id=int(account.id), schedule_id=sid, report=report.name,
                via="web", ip=ip,
            )  # fmt: skip
            return redirect(
                f"/accounts/{account.id}/reports/{report.name}/schedules?done=created"
                f"#schedule-{sid}"
            )

    return await run_in_threadpool(work)


PARTS = ("parameters", "recurrence", "time_zone", "recipients", "empty_report")


def every_error(
    conn: Connection, account: Any, body: dict[str, Any], now: Any, *, params_ok: bool
) -> list[str]:
    """The API's message for each part of ``body`` that is wrong, all of them.

    :func:`validate` stops at the first mistake; here each part is validated alone, as an
    update of a plain daily schedule, so one wrong field does not hide another.
    """
    plain = SimpleNamespace(
        _mapping={
            "report_type": body.get("report"),
            "parameters": {},
            "frequency": "daily",
            "time_of_day": "06:00",
            "day_of_week": None,
            "day_of_month": None,
            "cron": None,
            "time_zone": None,
            "recipients": [],
            "empty_report": "send",
            "enabled": True,
        }
    )
    errors = []
    for part in PARTS:
        if part not in body or (part == "parameters" and not params_ok):
            continue
        try:
            validate(conn, account, {part: body[part]}, now=now, existing=plain)
        except ScheduleError as exc:
            errors.append(_sentence(str(exc)))
    return errors


def _sentence(text: str) -> str:
    """The API's message, as is (it names the field the way the API does)."""
    return text.strip() or "The schedule was refused."


def _find(
    conn: Connection, session: WebSession, account: Any, report: Report, schedule_id: str
) -> Any:
    row = None
    wanted = parse_id(schedule_id)
    if wanted is not None:
        row = get_schedule(conn, int(account.id), wanted)
    if row is None or row.report_type != report.name:
        other = (
            row is None
            and wanted is not None
            and conn.execute(
                select(report_schedules.c.id).where(
                    report_schedules.c.id == wanted, report_schedules.c.account_id != account.id
                )
            ).first()
        )
        raise Refused(
            404,
            NO_SCHEDULE,
            denied=bool(other),
            reason="schedule of another account",
            user_id=session.user_id,
            account_id=int(account.id),
        )
    return row


@router.post("/accounts/{account_id}/reports/{report_name}/schedules/{schedule_id}/enabled")
async def set_enabled(
    account_id: str, report_name: str, schedule_id: str, request: Request, session: SessionDep
) -> Response:
    svc = services(request)
    data = await form_data(request)
    check_csrf(request, session, data)
    on = _first(data, "enabled") == "true"
    ip = client_ip(request)

    def work() -> Response:
        report = _report(report_name)
        now = utcnow()
        with svc.engine.begin() as conn:
            account = find_account(conn, session, account_id)
            row = _find(conn, session, account, report, schedule_id)
            try:
                values = validate(conn, account, {"enabled": on}, now=now, existing=row)
            except ScheduleError as exc:
                raise Refused(422, _sentence(str(exc))) from exc
            update_schedule(conn, int(row.id), values)
            record_change(
                conn, user_id=session.user_id, action="schedule.update",
                account_id=int(account.id), schedule_id=int(row.id), report=report.name,
                via="web", ip=ip, changed=["enabled"],
            )  # fmt: skip
        done = "enabled" if on else "disabled"
        return redirect(
            f"/accounts/{account.id}/reports/{report.name}/schedules?done={done}#schedule-{row.id}"
        )

    return await run_in_threadpool(work)


@router.get("/accounts/{account_id}/reports/{report_name}/schedules/{schedule_id}/delete")
def confirm_delete(
    account_id: str, report_name: str, schedule_id: str, request: Request, session: SessionDep
) -> Response:
    svc = services(request)
    report = _report(report_name)
    with read_conn(svc.engine) as conn:
        account = find_account(conn, session, account_id)
        row = _find(conn, session, account, report, schedule_id)
        data = schedule_json(conn, row)
        context = page_context(
            session,
            account=account,
            report=report,
            schedule=data,
            base=f"/accounts/{account.id}/reports/{report.name}/schedules",
        )
    return render(request, "schedule_delete.html", context)


@router.post("/accounts/{account_id}/reports/{report_name}/schedules/{schedule_id}/delete")
async def delete(
    account_id: str, report_name: str, schedule_id: str, request: Request, session: SessionDep
) -> Response:
    svc = services(request)
    data = await form_data(request)
    check_csrf(request, session, data)
    ip = client_ip(request)

    def work() -> Response:
        report = _report(report_name)
        with svc.engine.begin() as conn:
            account = find_account(conn, session, account_id)
            row = _find(conn, session, account, report, schedule_id)
            delete_schedule(conn, int(row.id), utcnow())
            record_change(
                conn, user_id=session.user_id, action="schedule.delete",
                account_id=int(account.id), schedule_id=int(row.id), report=report.name,
                via="web", ip=ip,
            )  # fmt: skip
        return redirect(f"/accounts/{account.id}/reports/{report.name}/schedules?done=deleted")

    return await run_in_threadpool(work)
