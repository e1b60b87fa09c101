"""Delivery of scheduled runs: when a run a schedule started ends, mail its recipients.

A run-ended listener (same transaction as the run's move to ``complete``/``error``) writes one
outbox message per recipient (:func:`reportcard.notify.outbox.enqueue`); the mailer sends them.
A complete run with zero data rows follows the schedule's ``empty_report`` policy: ``send`` the
link as usual, send a ``note`` saying the report was empty (no link), or ``skip`` (nothing).
A failed run mails no recipient (the owner gets the standard failure notification); the
firing records what happened in ``delivery``.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Connection, Select, func, select, update

from reportcard.clock import utcnow
from reportcard.db.schedule_tables import report_schedules, schedule_firings
from reportcard.db.tables import accounts, report_shards
from reportcard.notify.outbox import PUBLIC_URL, enqueue, file_link
from reportcard.notify.schedules import account_zone, rule_of, zone_or_utc
from reportcard.reports.catalog import get_report
from reportcard.reports.formatting import to_utc
from reportcard.runs.hooks import Hooks

__all__ = ["data_rows", "deliver_scheduled_run"]

log = logging.getLogger(__name__)


def data_rows(conn: Connection, run_id: int) -> int:
    """Rows of data the run wrote (headers not counted)."""
    total = conn.execute(
        select(func.coalesce(func.sum(report_shards.c.rows), 0)).where(
            report_shards.c.report_id == run_id
        )
    ).scalar()
    return int(total or 0)


def _messages(conn: Connection, schedule: Any, run: Any, rows: int, policy: str) -> tuple[str, str]:
    report = get_report(run.report_type)
    title = report.title if report is not None else run.report_type
    account = conn.execute(select(accounts.c.name).where(accounts.c.id == run.account_id)).scalar()
    zone = schedule.time_zone or account_zone(conn, int(schedule.account_id))
    ended = to_utc(run.end_at or utcnow()).astimezone(zone_or_utc(zone))
    when = ended.strftime("%Y-%m-%d %H:%M %Z")
    base = PUBLIC_URL  # the mailer puts REPORTCARD_PUBLIC_URL here when it sends
    footer = (
        f"\nSchedule {schedule.id}: {rule_of(schedule).describe()} ({zone}).\n"
        f"Run {run.id}: {base}/api/v1/accounts/{run.account_id}/reports/"
        f"{run.report_type}/{run.id}\n"
    )
    if policy == "note":
        subject = f"Scheduled report {title} ({account}): no data"
        body = (
            f"The scheduled report {title} for {account} ran at {when} and found no rows, "
            f"so there is nothing to download this time.\n{footer}"
        )
        return subject, body
    link = "(no file)"
    if run.attachment_id is not None:
        link = file_link(int(run.account_id), int(run.attachment_id))
    subject = f"Scheduled report {title} ({account})"
    body = (
        f"The scheduled report {title} for {account} is ready ({rows} rows, run at {when}).\n\n"
        f"Download: {link}\n\n{run.message or ''}\n{footer}"
    )
    return subject, body


def deliver_scheduled_run(conn: Connection, run: Any) -> None:
    """Mail the recipients of the schedule that started ``run`` (if one did).

    Runs in a savepoint: a failure here is logged and never undoes the run's transition.
    """
    try:
        with conn.begin_nested():
            _deliver(conn, run)
    except Exception:
        log.exception("could not queue the scheduled delivery of run %s", run.id)


def undelivered_firing(run_id: int) -> Select[Any]:
    """The firing that started the run, while its delivery is undecided."""
    f = schedule_firings.c
    return select(schedule_firings).where(f.run_id == run_id, f.delivery.is_(None))


def _prime(conn: Connection) -> None:
    """The run-ended listener's read, compiled at a worker's warm-up (a run no row has)."""
    conn.execute(undelivered_firing(0)).first()


def _deliver(conn: Connection, run: Any) -> None:
    firing = conn.execute(undelivered_firing(int(run.id))).first()
    if firing is None:
        return
    schedule = conn.execute(
        select(report_schedules).where(report_schedules.c.id == firing.schedule_id)
    ).first()
    if schedule is None:
        return
    now = utcnow()
    if schedule.workflow_state != "active":
        delivery = "cancelled"  # the schedule was deleted while its run was going
    elif run.workflow_state != "complete":
        delivery = "run_failed"
    else:
        rows = data_rows(conn, int(run.id))
        policy = schedule.empty_report if rows == 0 else "send"
        delivery = "skipped" if policy == "skip" else ("note" if policy == "note" else "sent")
        if policy != "skip":
            subject, body = _messages(conn, schedule, run, rows, policy)
            for address in schedule.recipients or []:
                enqueue(
                    conn,
                    to=address,
                    subject=subject,
                    body=body,
                    run_id=int(run.id),
                    kind="schedule",
                    now=now,
                )
    conn.execute(
        update(schedule_firings)
        .where(schedule_firings.c.id == firing.id)
        .values(delivery=delivery, delivered_at=now)
    )


def install(hooks: Hooks) -> None:
    hooks.on_run_ended(deliver_scheduled_run)
    hooks.on_warm_up(_prime)
