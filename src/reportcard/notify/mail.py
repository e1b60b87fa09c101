"""Report emails: written when a run ends, delivered by a periodic job with retries.

When a run completes or fails, :func:`report_ended` (a run-ended listener, in the transaction
of the run's final transition) writes "Report Generated" or "Report Generation Failed" to the
outbox for the user who started it, unless ``parameters[skip_message]`` is true. A run that
a schedule started sends no "Report Generated" (the schedule mails its recipients instead);
its failure still goes to the schedule's owner.

:func:`deliver_pending` (a housekeeping job in every worker process, and
``reportcard mail send-pending``) claims due messages one by one with a conditional UPDATE,
so several processes never send one message twice, and sends them over one SMTP connection.
A failure reschedules the message with a doubling delay; only a refusal with a 5xx code, or
running out of attempts, marks it ``failed``. Nothing here ever changes a run.
"""

from __future__ import annotations

import logging
import os
import re
import smtplib
import socket
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from reportcard.clock import utcnow
from reportcard.db.notify_tables import outbox_messages
from reportcard.db.schedule_tables import schedule_firings
from reportcard.db.tables import account_reports, accounts, attachments, communication_channels
from reportcard.notify import smtp as smtp_client
from reportcard.notify.outbox import PUBLIC_URL, enqueue, file_link
from reportcard.reports.catalog import get_report
from reportcard.reports.params import value_to_boolean
from reportcard.runs.hooks import Hooks
from reportcard.runs.lifecycle import titleized
from reportcard.settings import Settings
from reportcard.storage.base import Storage

log = logging.getLogger(__name__)

GENERATED = "Report Generated"
FAILED = "Report Generation Failed"
BATCH = 50
MAX_RETRY_SECONDS = 3600.0
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"


# --------------------------------------------------------------------------- writing
def email_of(conn: Connection, user_id: int) -> str | None:
    """The user's first active email communication channel."""
    cc = communication_channels.c
    return conn.execute(
        select(cc.path)
        .where(cc.user_id == user_id, cc.path_type == "email", cc.workflow_state == "active")
        .order_by(cc.position, cc.id)
        .limit(1)
    ).scalar()


def compose(conn: Connection, run: Any) -> tuple[str, str] | None:
    """Subject and body of the email for a run that just completed or failed."""
    params = run.parameters or {}
    account = conn.execute(select(accounts.c.name).where(accounts.c.id == run.account_id)).scalar()
    report = get_report(run.report_type)
    title = report.title if report is not None else titleized(run.report_type)
    if run.workflow_state == "complete" and run.attachment_id is not None:
        att = conn.execute(select(attachments).where(attachments.c.id == run.attachment_id)).one()
        link = file_link(int(run.account_id), int(att.id))
        message = run.message or (
            f"{title} report successfully generated with the following settings. "
            f"Account: {account}; {params.get('extra_text', '')}"
        )
        body = (
            f"{message}\n\n"
            f"Report: {title}\n"
            f"Account: {account}\n"
            f"Settings: {params.get('extra_text') or '(none)'}\n"
            f"File: {att.display_name}\n\n"
            f"Click here to download the report:\n{link}\n"
        )
        return GENERATED, body
    if run.workflow_state == "error":
        message = run.message or f"Generating the report, {title}, failed."
        reason = params.get("extra_text") or "unknown"
        body = f"{message}\n\nReport: {title}\nAccount: {account}\nReason: {reason}\n"
        return FAILED, body
    return None


def started_by_schedule(conn: Connection, run_id: int) -> bool:
    """True when a schedule's firing started the run (see :mod:`reportcard.notify.dispatcher`)."""
    found = conn.execute(
        select(schedule_firings.c.id).where(schedule_firings.c.run_id == run_id).limit(1)
    ).first()
    return found is not None


def report_ended(conn: Connection, run: Any) -> None:
    """Queue the email for the run's user (in the transition's transaction).

    A run a schedule started gets no "Report Generated": the schedule's own delivery to its
    recipients is the news. Its failure still tells the owner (the run's user), because the
    recipients are not told of failures.
    """
    if value_to_boolean((run.parameters or {}).get("skip_message")):
        return
    if run.user_id is None:
        return
    try:
        with conn.begin_nested():  # a failure here must never undo the run's transition
            if run.workflow_state == "complete" and started_by_schedule(conn, int(run.id)):
                return
            to = email_of(conn, int(run.user_id))
            if not to:
                return
            composed = compose(conn, run)
            if composed is None:
                return
            subject, body = composed
            enqueue(conn, to=to, subject=subject, body=body, run_id=int(run.id), kind="report")
    except Exception:
        log.exception("could not queue the email of run %s", run.id)


# -------------------------------------------------------------------------- delivering
_WORKER = f"{socket.gethostname()}:{os.getpid()}"


def _retry_delay(settings: Settings, attempts: int) -> float:
    return float(min(settings.mail_retry_seconds * 2 ** max(attempts - 1, 0), MAX_RETRY_SECONDS))


def _claim(conn: Connection, message_id: int, now: datetime) -> int | None:
    """Take a pending message for this process; its attempt number, or None if taken."""
    o = outbox_messages.c
    res = conn.execute(
        update(outbox_messages)
        .where(o.id == message_id, o.state == "pending")
        .values(state="sending", claimed_by=_WORKER, claimed_at=now, attempts=o.attempts + 1)
    )
    if res.rowcount != 1:
        return None
    return int(conn.execute(select(o.attempts).where(o.id == message_id)).scalar_one())


def _settle(
    engine: Engine,
    settings: Settings,
    msg: Any,
    attempts: int,
    now: datetime,
    error: smtp_client.SendError | None,
) -> None:
    o = outbox_messages.c
    if error is None:
        values: dict[str, Any] = {"state": "sent", "sent_at": now, "last_error": None}
    elif error.permanent or attempts >= settings.mail_max_attempts:
        values = {"state": "failed", "last_error": str(error)}
        log.warning("email %s to %s failed for good: %s", msg.id, msg.to_address, error)
    else:
        delay = _retry_delay(settings, attempts)
        values = {
            "state": "pending",
            "last_error": str(error),
            "next_attempt_at": now + timedelta(seconds=delay),
        }
        log.info("email %s: attempt %s failed (%s); retry in %ss", msg.id, attempts, error, delay)
    with engine.begin() as conn:
        conn.execute(
            update(outbox_messages)
            .where(o.id == msg.id, o.state == "sending", o.claimed_by == _WORKER)
            .values(claimed_by=None, claimed_at=None, **values)
        )


_VERIFIER = re.compile(r"\{\{verifier:(\d+)\}\}")
FOREVER_LINK_DAYS = 30


def fill_in(engine: Engine, settings: Settings, body: str, base: str) -> str:
    """The body as sent: the public address, and a signed verifier for each file link.

    A link stays valid until its file's retention ends (``FOREVER_LINK_DAYS`` from now when
    files are kept forever), and at least ``download_link_seconds``.
    """
    from reportcard.auth.links import LinkSigner
    from reportcard.runs.retention import days_for

    links = LinkSigner.from_settings(settings)

    def verifier(match: re.Match[str]) -> str:
        with engine.connect() as conn:
            att = conn.execute(
                select(attachments.c.id, attachments.c.uuid, attachments.c.created_at)
                .add_columns(account_reports.c.report_type)
                .select_from(
                    attachments.outerjoin(
                        account_reports, account_reports.c.attachment_id == attachments.c.id
                    )
                )
                .where(attachments.c.id == int(match.group(1)))
            ).first()
            conn.rollback()
        if att is None:
            return ""
        days = days_for(settings, att.report_type or "")
        if days > 0:
            left = (att.created_at + timedelta(days=days) - utcnow()).total_seconds()
        else:
            left = FOREVER_LINK_DAYS * 86400.0
        seconds = max(int(left), settings.download_link_seconds)
        return links.sign(int(att.id), att.uuid, seconds)

    return _VERIFIER.sub(verifier, body.replace(PUBLIC_URL, base))


def _release_stale(engine: Engine, settings: Settings, now: datetime) -> None:
    """Messages left ``sending`` by a process that died: back to pending (sent at least once)."""
    o = outbox_messages.c
    cutoff = now - timedelta(seconds=max(settings.stale_seconds, 6 * settings.smtp_timeout))
    stale = (o.state == "sending") & (o.claimed_at < cutoff)
    with engine.connect() as conn:  # read first: no write lock on SQLite when nothing is stale
        found = conn.execute(select(o.id).where(stale).limit(1)).first()
        conn.rollback()
    if found is None:
        return
    with engine.begin() as conn:
        conn.execute(
            update(outbox_messages)
            .where(stale)
            .values(state="pending", claimed_by=None, claimed_at=None, next_attempt_at=now)
        )


def deliver_pending(
    engine: Engine,
    storage: Storage | None,
    settings: Settings,
    now: datetime,
    *,
    due_only: bool = True,
) -> int:
    """Send due messages (every pending one with ``due_only=False``); returns how many sent."""
    if not settings.smtp_host:
        return 0
    _release_stale(engine, settings, now)
    o = outbox_messages.c
    base = (settings.public_url or DEFAULT_PUBLIC_URL).rstrip("/")
    sent = 0
    after = 0
    connection: smtplib.SMTP | None = None
    try:
        while True:
            query = select(outbox_messages).where(o.state == "pending", o.id > after)
            if due_only:
                query = query.where(o.next_attempt_at <= now)
            with engine.connect() as conn:
                batch = conn.execute(query.order_by(o.id).limit(BATCH)).all()
                conn.rollback()
            if not batch:
                return sent
            for msg in batch:
                after = int(msg.id)
                with engine.begin() as conn:
                    attempts = _claim(conn, int(msg.id), now)
                if attempts is None:
                    continue  # another process took it
                error: smtp_client.SendError | None = None
                try:
                    if connection is None:
                        connection = smtp_client.connect(settings)
                    body = fill_in(engine, settings, msg.body, base)
                    smtp_client.send(connection, settings, msg.to_address, msg.subject, body)
                except smtp_client.SendError as exc:
                    error = exc
                except Exception as exc:  # never leave a message claimed on a surprise
                    log.exception("email %s: unexpected error", msg.id)
                    error = smtp_client.SendError(f"{type(exc).__name__}: {exc}", permanent=False)
                _settle(engine, settings, msg, attempts, now, error)
                if error is None:
                    sent += 1
                elif not error.permanent:
                    return sent  # the server is down or unwell: the rest waits for a later pass
    finally:
        if connection is not None:
            _close(connection)


def _close(connection: smtplib.SMTP) -> None:
    try:
        connection.quit()
    except (OSError, smtplib.SMTPException):
        connection.close()


def _prime(conn: Connection) -> None:
    """The run-ended listener's reads, compiled at a worker's warm-up (ids no row has)."""
    started_by_schedule(conn, 0)
    email_of(conn, 0)


def install(hooks: Hooks) -> None:
    hooks.on_run_ended(report_ended)
    hooks.on_warm_up(_prime)
    hooks.every("mail", lambda s: s.mail_interval_seconds, deliver_pending)
