"""The schedule dispatcher: starts each due firing of each schedule exactly once.

Every worker process runs :func:`dispatch_due` about every ``REPORTCARD_SCHEDULE_POLL_SECONDS``
(a periodic job of :mod:`reportcard.runs.housekeeping`). For each enabled schedule whose
``next_run_at`` has come, one transaction

1. claims the firing by a conditional UPDATE that moves ``next_run_at`` from the value it read
   to the next occurrence *after now* (so a schedule missed during downtime runs once, not once
   per missed occurrence); a dispatcher whose UPDATE matches no row lost the race and moves on;
2. records the firing in ``schedule_firings`` (unique on schedule and due time: a second
   record of the same firing cannot exist even if the claim were bypassed);
3. checks the owner's ``read_reports`` on the account *now*: without it the firing is
   ``refused``, no run is created, and the owner is told by email;
4. creates the run through :func:`reportcard.runs.lifecycle.create_run` after the checks the
   Start a Report endpoint makes, with the owner as the run's user.

``now`` is an argument everywhere, so tests drive the clock.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from reportcard.auth.permissions import READ_REPORTS, has_permission
from reportcard.clock import utcnow
from reportcard.db.engine import read_conn
from reportcard.db.schedule_tables import report_schedules, schedule_firings
from reportcard.db.tables import accounts, communication_channels, users
from reportcard.notify.outbox import enqueue
from reportcard.notify.recurrence import RecurrenceError
from reportcard.notify.schedules import ScheduleError, check_parameters, compute_next
from reportcard.reports.catalog import get_report
from reportcard.runs.hooks import Hooks, run_created
from reportcard.runs.lifecycle import create_run
from reportcard.settings import Settings
from reportcard.storage.base import Storage

__all__ = ["Firing", "dispatch_due", "fire_schedule", "owner_email"]

log = logging.getLogger(__name__)


class Firing:
    """What one firing did: outcome started | refused | failed, the run, the reason."""

    def __init__(
        self, schedule_id: int, outcome: str, run_id: int | None, message: str | None
    ) -> None:
        self.schedule_id = schedule_id
        self.outcome = outcome
        self.run_id = run_id
        self.message = message

    def __repr__(self) -> str:
        return f"Firing({self.schedule_id}, {self.outcome!r}, run={self.run_id})"


def owner_email(conn: Connection, user_id: int) -> str | None:
    """The user's first active email address, if any."""
    cc = communication_channels.c
    path = conn.execute(
        select(cc.path)
        .where(cc.user_id == user_id, cc.path_type == "email", cc.workflow_state == "active")
        .order_by(cc.position, cc.id)
        .limit(1)
    ).scalar()
    return None if path is None else str(path)


def _refuse(conn: Connection, schedule: Any, reason: str, now: datetime) -> None:
    address = owner_email(conn, int(schedule.owner_user_id))
    if address is None:
        return
    enqueue(
        conn,
        to=address,
        subject=f"Scheduled report not run: {schedule.report_type}",
        body=(
            f"Your scheduled report {schedule.report_type} (schedule {schedule.id}, account "
            f"{schedule.account_id}) was due at {schedule.next_run_at:%Y-%m-%d %H:%M} UTC "
            f"and was not run: {reason}\n"
        ),
        kind="schedule",
        now=now,
    )


def _start(conn: Connection, schedule: Any, now: datetime) -> tuple[str, int | None, str | None]:
    """Check the owner's rights and the parameters; create the run. (outcome, run, reason)"""
    account = conn.execute(select(accounts).where(accounts.c.id == schedule.account_id)).first()
    owner = conn.execute(select(users).where(users.c.id == schedule.owner_user_id)).first()
    if account is None or account.workflow_state == "deleted":
        return "refused", None, "the account no longer exists"
    if owner is None or owner.workflow_state == "deleted":
        return "refused", None, "the schedule's owner no longer exists"
    if not has_permission(conn, int(owner.id), int(account.id), READ_REPORTS):
        return "refused", None, "the schedule's owner no longer has read_reports on the account"
    if get_report(schedule.report_type) is None:
        return "failed", None, f"unknown report {schedule.report_type!r}"
    params = dict(schedule.parameters or {})
    root_id = int(account.root_account_id or account.id)
    try:
        check_parameters(conn, root_id, params, now)
    except ScheduleError as exc:
        return "failed", None, str(exc)
    run_id = create_run(
        conn,
        account_id=int(account.id),
        root_account_id=root_id,
        user_id=int(owner.id),
        report_type=schedule.report_type,
        parameters=params,
    )
    return "started", run_id, None


def fire_schedule(conn: Connection, schedule: Any, now: datetime) -> Firing | None:
    """Claim and fire the due occurrence of ``schedule`` (a row as read); None if lost."""
    s = report_schedules.c
    due = schedule.next_run_at
    try:
        upcoming = compute_next(conn, schedule, now)
    except RecurrenceError as exc:  # e.g. a zone that vanished from tzdata: stop, say why
        log.warning("schedule %s disabled: %s", schedule.id, exc)
        upcoming = None
    claimed = conn.execute(
        update(report_schedules)
        .where(
            s.id == schedule.id,
            s.next_run_at == due,
            s.enabled.is_(True),
            s.workflow_state == "active",
        )
        .values(next_run_at=upcoming, last_fired_at=now, updated_at=now)
    )
    if claimed.rowcount != 1:
        return None
    outcome, run_id, reason = _start(conn, schedule, now)
    conn.execute(
        insert(schedule_firings).values(
            schedule_id=schedule.id,
            due_at=due,
            fired_at=now,
            outcome=outcome,
            run_id=run_id,
            message=reason,
        )
    )
    if run_id is not None:
        conn.execute(update(report_schedules).where(s.id == schedule.id).values(last_run_id=run_id))
    elif outcome in ("refused", "failed"):
        _refuse(conn, schedule, reason or outcome, now)
    return Firing(int(schedule.id), outcome, run_id, reason)


def dispatch_due(
    engine: Engine, settings: Settings, now: datetime | None = None, limit: int = 200
) -> list[Firing]:
    """Fire every due schedule once; returns what this dispatcher fired (not its rivals)."""
    now = now or utcnow()
    s = report_schedules.c
    with read_conn(engine) as conn:
        due_ids = [
            int(i)
            for i in conn.execute(
                select(s.id)
                .where(
                    s.enabled.is_(True),
                    s.workflow_state == "active",
                    s.next_run_at.is_not(None),
                    s.next_run_at <= now,
                )
                .order_by(s.next_run_at, s.id)
                .limit(limit)
            ).scalars()
        ]
        conn.rollback()
    fired: list[Firing] = []
    for schedule_id in due_ids:
        try:
            with engine.begin() as conn:
                row = conn.execute(select(report_schedules).where(s.id == schedule_id)).first()
                if row is None or row.next_run_at is None or row.next_run_at > now:
                    continue
                firing = fire_schedule(conn, row, now)
        except IntegrityError:
            # A rival recorded this firing first (unique schedule + due time): nothing to do.
            log.debug("schedule %s: firing recorded by another dispatcher", schedule_id)
            continue
        except Exception:
            log.exception("schedule %s could not fire", schedule_id)
            continue
        if firing is not None:
            fired.append(firing)
            if firing.run_id is not None:
                run_created(engine, firing.run_id)  # the runtime tells its queue
    return fired


def _job(engine: Engine, storage: Storage, settings: Settings, now: datetime) -> int:
    return len(dispatch_due(engine, settings, now))


def install(hooks: Hooks) -> None:
    hooks.every("schedule_dispatcher", lambda s: s.schedule_poll_seconds, _job)
