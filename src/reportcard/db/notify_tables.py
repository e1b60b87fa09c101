"""Tables of email delivery: the outbox of messages waiting to be (or already) sent.

A message is written in the same transaction as the event that causes it (a run's end, a
schedule's run) and delivered later by the mailer (:mod:`reportcard.notify.mail`), which
claims due rows with a conditional UPDATE so several worker processes never send one twice.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, ForeignKey, Index, Integer, String, Table, Text

from reportcard.db.tables import Id, metadata

__all__ = ["metadata", "outbox_messages"]

# state: pending -> sending -> sent, or back to pending with a later next_attempt_at after a
# failed attempt, or failed once the attempts are used up.
outbox_messages = Table(
    "outbox_messages",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False, default="report"),  # report, schedule, ...
    Column("run_id", Id, ForeignKey("account_reports.id", ondelete="SET NULL"), nullable=True),
    Column("to_address", String(320), nullable=False),
    Column("subject", String(998), nullable=False),
    Column("body", Text, nullable=False),
    Column("state", String(16), nullable=False, default="pending"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("claimed_by", String(128), nullable=True),
    Column("claimed_at", DateTime, nullable=True),
    Column("created_at", DateTime, nullable=False),
    Column("sent_at", DateTime, nullable=True),
    Index("ix_outbox_messages_due", "state", "next_attempt_at"),
    Index("ix_outbox_messages_run", "run_id"),
)
