"""The email outbox from the command line: deliver pending messages now."""

from __future__ import annotations

import click
from sqlalchemy import func, select, update

from reportcard.cli.base import main, open_engine
from reportcard.settings import get_settings


@main.group("mail")
def mail() -> None:
    """The email outbox (report notifications)."""


@mail.command("send-pending")
@click.option(
    "--retry-failed",
    is_flag=True,
    help="Put messages that ran out of attempts (or were refused) back in line first.",
)
def send_pending(retry_failed: bool) -> None:
    """Deliver every pending email now, without waiting for retry delays."""
    from reportcard.clock import utcnow
    from reportcard.db.notify_tables import outbox_messages
    from reportcard.notify.mail import deliver_pending

    settings = get_settings()
    if not settings.smtp_host:
        raise click.ClickException("REPORTCARD_SMTP_HOST is not set: there is no mail server")
    engine = open_engine(settings)
    o = outbox_messages.c
    now = utcnow()
    if retry_failed:
        with engine.begin() as conn:
            conn.execute(
                update(outbox_messages)
                .where(o.state == "failed")
                .values(state="pending", attempts=0, next_attempt_at=now)
            )
    sent = deliver_pending(engine, None, settings, now, due_only=False)
    with engine.connect() as conn:
        counts: dict[str, int] = {
            str(state): int(n)
            for state, n in conn.execute(select(o.state, func.count()).group_by(o.state))
        }
        last = conn.execute(
            select(o.last_error).where(o.state == "pending").order_by(o.id.desc()).limit(1)
        ).scalar()
    waiting = counts.get("pending", 0)
    click.echo(f"sent {sent}; pending {waiting}; failed {counts.get('failed', 0)}")
    if waiting:
        if last:
            click.echo(f"last error: {last}", err=True)
        raise SystemExit(1)
