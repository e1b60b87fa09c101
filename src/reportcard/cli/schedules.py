"""Scheduled reports from the command line: list, create, delete, and fire due schedules."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import click
from sqlalchemy import insert, select, update

from reportcard.cli.backends import BadInput, NotFound
from reportcard.cli.base import in_database, main, open_engine
from reportcard.cli.param_checks import check_declared
from reportcard.settings import get_settings


@main.group()
def schedules() -> None:
    """Scheduled reports (docs/delivery.md)."""


@schedules.command("list")
@click.option("--account", "account_id", type=int, default=None, help="Only this account.")
def schedules_list(account_id: int | None) -> None:
    """Print each active schedule as one JSON line."""
    from reportcard.db.schedule_tables import report_schedules
    from reportcard.notify.schedules import schedule_json

    settings = get_settings()
    engine = open_engine(settings)
    s = report_schedules.c
    stmt = select(report_schedules).where(s.workflow_state == "active").order_by(s.id)
    if account_id is not None:
        stmt = stmt.where(s.account_id == account_id)
    mail_configured = bool(settings.smtp_host)
    with engine.connect() as conn:
        for row in conn.execute(stmt).all():
            click.echo(json.dumps(schedule_json(conn, row, mail_configured=mail_configured)))


def _kv(pairs: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise click.BadParameter(f"expected key=value, got {pair!r}", param_hint="--param")
        k, v = pair.split("=", 1)
        out[k] = v
    return out


@schedules.command("create")
@click.option("--account", "account_id", type=int, required=True, help="Account id.")
@click.option("--owner", "login", required=True, help="Login of the owner (needs read_reports).")
@click.option("--root-account", type=int, default=None, help="Root account of the login.")
@click.option("--report", required=True, help="Report type, e.g. provisioning_csv.")
@click.option("--param", "params", multiple=True, help="A report parameter as key=value.")
@click.option(
    "--unchecked",
    is_flag=True,
    help="Keep --param as given: no check of names, dates, choices or files (as run's).",
)
@click.option(
    "--frequency",
    type=click.Choice(["daily", "weekdays", "weekly", "monthly", "cron"]),
    required=True,
    help="How often it runs.",
)
@click.option("--time", "at", default=None, help="Local time HH:MM (not with cron).")
@click.option("--day-of-week", default=None, help="Weekday for weekly (monday ... sunday).")
@click.option("--day-of-month", type=int, default=None, help="Day 1-31 for monthly.")
@click.option("--cron", default=None, help="5-field cron expression for cron.")
@click.option("--time-zone", default=None, help="IANA zone (default: the account's).")
@click.option("--recipient", "recipients", multiple=True, help="An email address (repeatable).")
@click.option(
    "--empty-report",
    type=click.Choice(["send", "note", "skip"]),
    default="send",
    show_default=True,
    help="What to send when the report has no rows.",
)
def schedules_create(
    account_id: int,
    login: str,
    root_account: int | None,
    report: str,
    params: tuple[str, ...],
    unchecked: bool,
    frequency: str,
    at: str | None,
    day_of_week: str | None,
    day_of_month: int | None,
    cron: str | None,
    time_zone: str | None,
    recipients: tuple[str, ...],
    empty_report: str,
) -> None:
    """Create a schedule; prints it as JSON."""
    from reportcard.auth.permissions import READ_REPORTS, has_permission
    from reportcard.auth.tokens import user_for_login
    from reportcard.clock import utcnow
    from reportcard.db.schedule_tables import report_schedules
    from reportcard.db.tables import accounts
    from reportcard.notify.schedules import ScheduleError, get_schedule, schedule_json, validate

    settings = get_settings()
    engine = open_engine(settings)  # the runtime's: the catalog's extra reports loaded
    data: dict[str, Any] = {
        "report": report,
        "parameters": _kv(params),
        "recurrence": {
            "frequency": frequency,
            "time": at,
            "day_of_week": day_of_week,
            "day_of_month": day_of_month,
            "cron": cron,
        },
        "recipients": list(recipients),
        "empty_report": empty_report,
    }
    if time_zone is not None:
        data["time_zone"] = time_zone
    now = utcnow()
    with engine.begin() as conn:
        account = conn.execute(select(accounts).where(accounts.c.id == account_id)).first()
        if account is None or account.workflow_state == "deleted":
            raise NotFound(f"no account {account_id} {in_database()}")
        owner = user_for_login(conn, login, root_account)
        if owner is None:
            raise NotFound(f"no active login {login!r} {in_database()}")
        if not has_permission(conn, int(owner.user_id), account_id, READ_REPORTS):
            raise NotFound(f"{login!r} has no read_reports on account {account_id}")
        if not unchecked:
            check_declared(report, data["parameters"])
        try:
            values = validate(conn, account, data, now=now)
        except ScheduleError as exc:
            raise BadInput(str(exc)) from exc
        pk = conn.execute(
            insert(report_schedules).values(
                account_id=account_id,
                root_account_id=int(account.root_account_id or account.id),
                owner_user_id=int(owner.user_id),
                workflow_state="active",
                created_at=now,
                **values,
            )
        ).inserted_primary_key
        assert pk is not None
        made = schedule_json(
            conn,
            get_schedule(conn, account_id, int(pk[0])),
            mail_configured=bool(settings.smtp_host),
        )
        click.echo(json.dumps(made))
        for warning in made["warnings"]:
            click.echo(f"warning: {warning}", err=True)


@schedules.command("delete")
@click.argument("schedule_id", type=int)
def schedules_delete(schedule_id: int) -> None:
    """Delete a schedule (it stops firing; its history stays)."""
    from reportcard.clock import utcnow
    from reportcard.db.schedule_tables import report_schedules

    engine = open_engine(get_settings())
    s = report_schedules.c
    with engine.begin() as conn:
        done = conn.execute(
            update(report_schedules)
            .where(s.id == schedule_id, s.workflow_state == "active")
            .values(workflow_state="deleted", enabled=False, next_run_at=None, updated_at=utcnow())
        ).rowcount
    if done != 1:
        raise NotFound(f"no schedule {schedule_id} {in_database()}")
    click.echo(f"deleted schedule {schedule_id}")


@schedules.command("run-due")
@click.option(
    "--now",
    "now_text",
    default=None,
    help="Act as if it were this UTC time (ISO 8601); default: now.",
)
def schedules_run_due(now_text: str | None) -> None:
    """Fire every due schedule once now (what the workers do periodically)."""
    from reportcard.clock import utcnow
    from reportcard.notify.dispatcher import dispatch_due

    settings = get_settings()
    engine = open_engine(settings)  # the runtime's: the catalog's extra reports loaded
    now = utcnow()
    if now_text:
        try:
            parsed = datetime.fromisoformat(now_text.replace("Z", "+00:00"))
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--now") from exc
        now = parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed
    for firing in dispatch_due(engine, settings, now):
        click.echo(
            json.dumps(
                {
                    "schedule_id": firing.schedule_id,
                    "outcome": firing.outcome,
                    "run_id": firing.run_id,
                    "message": firing.message,
                }
            )
        )
