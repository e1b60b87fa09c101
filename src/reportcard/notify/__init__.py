"""Delivery: email (outbox), schedules, webhooks; see docs/delivery.md."""

from __future__ import annotations

from reportcard.runs.hooks import Hooks


def install(hooks: Hooks) -> None:
    """Run-ended listeners (a schedule's delivery, webhook events, the report email) and the
    periodic jobs that deliver what they wrote (webhooks, mail, the schedule dispatcher)."""
    from reportcard.notify import dispatcher, mail, schedule_delivery, webhooks

    schedule_delivery.install(hooks)
    webhooks.install(hooks)
    mail.install(hooks)
    dispatcher.install(hooks)
