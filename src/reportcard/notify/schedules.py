"""Scheduled reports: validate a schedule, store it, and show it.

The API and the CLI both go through :func:`validate` (input → column values, or a
:class:`ScheduleError` whose message the API answers with 400) and :func:`schedule_json`.
Firing is :mod:`reportcard.notify.dispatcher`'s; delivery to the recipients is
:mod:`reportcard.notify.schedule_delivery`'s.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, insert, select, update

from reportcard.audit import record
from reportcard.db.schedule_tables import report_schedules
from reportcard.db.tables import accounts, users
from reportcard.notify.recurrence import (
    WEEKDAYS,
    Recurrence,
    RecurrenceError,
    next_after,
    parse_time_of_day,
    validate_zone,
)
from reportcard.reports.catalog import get_report
from reportcard.reports.formatting import to_utc
from reportcard.reports.params import ReportInputError
from reportcard.runs.start import check_term

__all__ = [
    "EMPTY_POLICIES",
    "MAX_RECIPIENTS",
    "ScheduleError",
    "account_zone",
    "check_parameters",
    "compute_next",
    "delete_schedule",
    "get_schedule",
    "insert_schedule",
    "mail_warning",
    "record_change",
    "rule_of",
    "schedule_json",
    "update_schedule",
    "validate",
    "zone_or_utc",
]

EMPTY_POLICIES = ("send", "note", "skip")
MAX_RECIPIENTS = 50
# A deliberately plain check: one @, no spaces or control characters, a dot in the domain.
_EMAIL = re.compile(
    r"[^@\s,;<>\"]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?\.[A-Za-z]{2,63}"
)


class ScheduleError(ValueError):
    """Bad schedule input; the message is shown to the client."""


def zone_or_utc(name: str) -> ZoneInfo:
    """The zone ``name``, or UTC when it is not a known zone (display only)."""
    try:
        return validate_zone(name)
    except RecurrenceError:
        return ZoneInfo("UTC")


def account_zone(conn: Connection, account_id: int) -> str:
    tz = conn.execute(
        select(accounts.c.default_time_zone).where(accounts.c.id == account_id)
    ).scalar()
    return str(tz or "UTC")


def _getter(row: Any) -> Callable[[str], Any]:
    if isinstance(row, dict):
        return lambda k: row.get(k)
    return lambda k: getattr(row, k)


def rule_of(row: Any) -> Recurrence:
    """The recurrence stored on a schedule row (or a mapping of its columns)."""
    get = _getter(row)
    if get("frequency") == "cron":
        return Recurrence("cron", cron=get("cron"))
    return Recurrence(
        get("frequency"),
        parse_time_of_day(get("time_of_day") or "00:00"),
        day_of_week=get("day_of_week"),
        day_of_month=get("day_of_month"),
    )


def compute_next(conn: Connection, row: Any, now: datetime) -> datetime | None:
    """The next firing of a schedule (row or column mapping) after ``now``; None if disabled."""
    get = _getter(row)
    if not get("enabled") or get("workflow_state") != "active":
        return None
    zone = validate_zone(get("time_zone") or account_zone(conn, int(get("account_id"))))
    return next_after(rule_of(row), zone, now)


def check_parameters(conn: Connection, root_id: int, params: dict[str, Any], now: datetime) -> None:
    """The checks the Start a Report endpoint makes on parameters (the term must exist)."""
    try:
        check_term(conn, root_id, params, now)
    except ReportInputError as exc:
        raise ScheduleError(str(exc)) from exc


def _recipients(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        items = [v for v in re.split(r"[,;\s]+", value) if v]
    elif isinstance(value, list):
        items = value
    elif isinstance(value, dict):  # form-encoded recipients[0]=..., recipients[1]=...
        items = [value[k] for k in sorted(value, key=lambda k: (len(str(k)), str(k)))]
    else:
        raise ScheduleError("recipients must be a list of email addresses")
    if len(items) > MAX_RECIPIENTS:
        raise ScheduleError(f"at most {MAX_RECIPIENTS} recipients")
    out: list[str] = []
    for item in items:
        if not isinstance(item, str) or not _EMAIL.fullmatch(item.strip()):
            raise ScheduleError(f"invalid recipient email address {item!r}")
        addr = item.strip()
        if addr.lower() not in (a.lower() for a in out):
            out.append(addr)
    if len(out) > MAX_RECIPIENTS:
        raise ScheduleError(f"at most {MAX_RECIPIENTS} recipients")
    return out


def _bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "on"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("false", "0", "no", "off"):
        return False
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ScheduleError(f"{name} must be true or false")


def _recurrence(data: Any) -> Recurrence:
    if not isinstance(data, dict):
        raise ScheduleError(
            "recurrence must be an object: {frequency, time, day_of_week, day_of_month, cron}"
        )
    freq = data.get("frequency")
    if not isinstance(freq, str):
        raise ScheduleError(
            "recurrence frequency must be one of daily, weekdays, weekly, monthly, cron"
        )
    try:
        return Recurrence.build(
            freq.strip().lower(),
            at=None if data.get("time") is None else str(data.get("time")),
            day_of_week=data.get("day_of_week"),
            day_of_month=data.get("day_of_month"),
            cron=None if data.get("cron") is None else str(data.get("cron")),
        )
    except RecurrenceError as exc:
        raise ScheduleError(f"invalid recurrence: {exc}") from None


def validate(
    conn: Connection,
    account: Any,
    data: dict[str, Any],
    *,
    now: datetime,
    existing: Any | None = None,
) -> dict[str, Any]:
    """Column values for a new schedule (``existing`` None) or an update of ``existing``.

    Only the keys present in ``data`` change on an update; next_run_at is recomputed.
    """
    root_id = int(account.root_account_id or account.id)
    values: dict[str, Any] = {}
    creating = existing is None
    if creating or "report" in data:
        report = data.get("report")
        if not isinstance(report, str) or not report:
            raise ScheduleError("report is required (the report type, e.g. provisioning_csv)")
        if get_report(report) is None:
            raise ScheduleError(f"unknown report {report!r}")
        values["report_type"] = report
    if creating or "parameters" in data:
        params = data.get("parameters") or {}
        if not isinstance(params, dict):
            raise ScheduleError("parameters must be a hash of report parameters")
        check_parameters(conn, root_id, params, now)
        values["parameters"] = params
    if creating or "recurrence" in data:
        if data.get("recurrence") is None:
            raise ScheduleError("recurrence is required")
        rule = _recurrence(data.get("recurrence"))
        values.update(
            frequency=rule.frequency,
            time_of_day=None if rule.frequency == "cron" else rule.at.strftime("%H:%M"),
            day_of_week=rule.day_of_week,
            day_of_month=rule.day_of_month,
            cron=rule.cron,
        )
    if "time_zone" in data:
        tz = data.get("time_zone")
        if tz in (None, ""):
            values["time_zone"] = None
        else:
            try:
                values["time_zone"] = validate_zone(str(tz)).key
            except RecurrenceError as exc:
                raise ScheduleError(str(exc)) from None
    if creating or "recipients" in data:
        values["recipients"] = _recipients(data.get("recipients"))
    if creating or "empty_report" in data:
        policy = data.get("empty_report", "send")
        if policy not in EMPTY_POLICIES:
            raise ScheduleError(f"empty_report must be one of send, note, skip, got {policy!r}")
        values["empty_report"] = policy
    if creating or "enabled" in data:
        values["enabled"] = _bool(data.get("enabled", True), "enabled")
    merged = dict(existing._mapping) if existing is not None else {}
    merged.update(values)
    merged.setdefault("time_zone", None)
    merged.setdefault("workflow_state", "active")
    merged["account_id"] = int(account.id)
    try:
        values["next_run_at"] = compute_next(conn, merged, now)
    except RecurrenceError as exc:  # the account's own zone is not an IANA name
        raise ScheduleError(f"{exc}: give the schedule a time_zone") from None
    values["updated_at"] = now
    return values


def _iso(value: datetime | None) -> str | None:
    return None if value is None else to_utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


NO_MAIL_SERVER = (
    "No mail server is configured (REPORTCARD_SMTP_HOST is empty): the emails to the "
    "recipients will wait in the outbox, unsent, until one is."
)


def mail_warning(mail_configured: bool, recipients: Any) -> str | None:
    """The warning for a schedule that mails recipients while no mail server is configured.

    Such a schedule is accepted (the messages wait in the outbox and go out once
    ``smtp_host`` is set), but the page, the CLI and the API say so.
    """
    return None if mail_configured or not recipients else NO_MAIL_SERVER


def schedule_json(conn: Connection, row: Any, *, mail_configured: bool = True) -> dict[str, Any]:
    """The ReportSchedule object of the API.

    ``warnings`` lists what will not work as set up: today only recipients with no mail
    server configured (:func:`mail_warning`).
    """
    warning = mail_warning(mail_configured, row.recipients)
    owner = conn.execute(select(users).where(users.c.id == row.owner_user_id)).first()
    zone = row.time_zone or account_zone(conn, int(row.account_id))
    rule = rule_of(row)
    local_next = None
    if row.next_run_at is not None:
        local_next = (
            to_utc(row.next_run_at).astimezone(zone_or_utc(zone)).isoformat(timespec="seconds")
        )
    return {
        "id": int(row.id),
        "account_id": int(row.account_id),
        "report": row.report_type,
        "parameters": row.parameters or {},
        "recurrence": {
            "frequency": row.frequency,
            "time": row.time_of_day,
            "day_of_week": None if row.day_of_week is None else WEEKDAYS[int(row.day_of_week)],
            "day_of_month": row.day_of_month,
            "cron": row.cron,
        },
        "description": rule.describe(),
        "time_zone": zone,
        "time_zone_override": row.time_zone,
        "recipients": list(row.recipients or []),
        "empty_report": row.empty_report,
        "enabled": bool(row.enabled),
        "owner": None
        if owner is None
        else {"id": int(owner.id), "display_name": owner.short_name or owner.name},
        "next_run_at": _iso(row.next_run_at),
        "next_run_at_local": local_next,
        "last_run_id": None if row.last_run_id is None else int(row.last_run_id),
        "last_fired_at": _iso(row.last_fired_at),
        "created_at": _iso(row.created_at),
        "updated_at": _iso(row.updated_at),
        "warnings": [] if warning is None else [warning],
    }


def get_schedule(conn: Connection, account_id: int, schedule_id: int) -> Any:
    """An active schedule of the account, or None."""
    s = report_schedules.c
    return conn.execute(
        select(report_schedules).where(
            s.id == schedule_id, s.account_id == account_id, s.workflow_state == "active"
        )
    ).first()


def insert_schedule(
    conn: Connection, account: Any, owner_user_id: int, values: dict[str, Any], now: datetime
) -> int:
    """Store a new schedule (``values`` from :func:`validate`); its id."""
    pk = conn.execute(
        insert(report_schedules).values(
            account_id=int(account.id),
            root_account_id=int(account.root_account_id or account.id),
            owner_user_id=owner_user_id,
            workflow_state="active",
            created_at=now,
            **values,
        )
    ).inserted_primary_key
    assert pk is not None
    return int(pk[0])


def update_schedule(conn: Connection, schedule_id: int, values: dict[str, Any]) -> None:
    """Apply ``values`` from :func:`validate` (with ``existing``) to a schedule."""
    conn.execute(
        update(report_schedules).where(report_schedules.c.id == schedule_id).values(**values)
    )


def delete_schedule(conn: Connection, schedule_id: int, now: datetime) -> None:
    """Mark a schedule deleted: it never fires again (its firings stay)."""
    conn.execute(
        update(report_schedules)
        .where(report_schedules.c.id == schedule_id)
        .values(workflow_state="deleted", enabled=False, next_run_at=None, updated_at=now)
    )


def record_change(
    conn: Connection,
    *,
    user_id: int,
    action: str,
    account_id: int,
    schedule_id: int,
    report: str,
    via: str,
    ip: str | None,
    changed: list[str] | None = None,
) -> None:
    """Audit ``schedule.create`` / ``schedule.update`` / ``schedule.delete`` (same transaction)."""
    detail: dict[str, Any] = {"report": report, "via": via}
    if changed is not None:
        detail["changed"] = sorted(changed)
    record(
        conn,
        user_id=user_id,
        action=action,
        account_id=account_id,
        subject_type="report_schedule",
        subject_id=schedule_id,
        detail=detail,
        ip=ip,
    )
