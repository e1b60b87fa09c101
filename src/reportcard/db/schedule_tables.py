"""Tables of scheduled reports and webhooks.

``report_schedules`` holds each schedule and its next firing; ``schedule_firings`` records
every firing once (unique on the schedule and the instant it was due), which is what makes a
firing happen exactly once however many dispatchers run. ``report_webhooks`` are the
endpoints an account registered; ``webhook_deliveries`` is the queue and log of POSTs.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from reportcard.db.tables import Id, metadata

__all__ = [
    "metadata",
    "report_schedules",
    "report_webhooks",
    "schedule_firings",
    "webhook_deliveries",
]

report_schedules = Table(
    "report_schedules",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", Id, ForeignKey("accounts.id"), nullable=False),
    Column("root_account_id", Id, ForeignKey("accounts.id"), nullable=False),
    Column("owner_user_id", Id, ForeignKey("users.id"), nullable=False),
    Column("report_type", String(64), nullable=False),
    Column("parameters", JSON, nullable=False),
    # daily | weekdays | weekly | monthly | cron; see reportcard.notify.recurrence
    Column("frequency", String(16), nullable=False),
    Column("time_of_day", String(5), nullable=True),  # HH:MM local; NULL for cron
    Column("day_of_week", Integer, nullable=True),  # 0 = Monday (weekly)
    Column("day_of_month", Integer, nullable=True),  # 1-31, clamped to the month's end
    Column("cron", String(255), nullable=True),
    Column("time_zone", String(64), nullable=True),  # NULL: the account's default zone
    Column("recipients", JSON, nullable=False),  # list of email addresses
    Column("empty_report", String(8), nullable=False, default="send"),  # send | note | skip
    Column("enabled", Boolean, nullable=False, default=True),
    Column("workflow_state", String(16), nullable=False, default="active"),  # active | deleted
    Column("next_run_at", DateTime, nullable=True),  # naive UTC; NULL when disabled
    Column("last_run_id", Id, nullable=True),
    Column("last_fired_at", DateTime, nullable=True),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Index("ix_report_schedules_due", "enabled", "next_run_at"),
    Index("ix_report_schedules_account", "account_id", "id"),
)

# outcome: started (run_id set) | refused (owner lacks read_reports) | failed (bad parameters,
# unknown report). delivery: what the run-ended listener did (sent, note, skipped, run_failed).
schedule_firings = Table(
    "schedule_firings",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column(
        "schedule_id",
        Id,
        ForeignKey("report_schedules.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("due_at", DateTime, nullable=False),
    Column("fired_at", DateTime, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("run_id", Id, ForeignKey("account_reports.id", ondelete="SET NULL"), nullable=True),
    Column("message", Text, nullable=True),
    Column("delivery", String(16), nullable=True),
    Column("delivered_at", DateTime, nullable=True),
    UniqueConstraint("schedule_id", "due_at"),
    Index("ix_schedule_firings_run", "run_id"),
)

report_webhooks = Table(
    "report_webhooks",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", Id, ForeignKey("accounts.id"), nullable=False),
    Column("user_id", Id, ForeignKey("users.id"), nullable=True),  # who registered it
    Column("url", String(2048), nullable=False),
    # The signing key: kept in clear because signing needs it; shown to the client once.
    Column("secret", String(128), nullable=False),
    Column("events", JSON, nullable=False),  # ["report.completed", "report.failed"]
    Column("enabled", Boolean, nullable=False, default=True),
    Column("workflow_state", String(16), nullable=False, default="active"),  # active | deleted
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Index("ix_report_webhooks_account", "account_id", "id"),
)

# state: pending -> sending -> delivered, or back to pending with a later next_attempt_at after
# a failed attempt, or failed once the attempts are used up (or the address is refused).
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column(
        "webhook_id",
        Id,
        ForeignKey("report_webhooks.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("run_id", Id, ForeignKey("account_reports.id", ondelete="SET NULL"), nullable=True),
    Column("event", String(32), nullable=False),
    Column("uuid", String(64), nullable=False, unique=True),
    Column("payload", Text, nullable=False),  # the exact JSON body sent
    Column("state", String(16), nullable=False, default="pending"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime, nullable=False),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("claimed_by", String(128), nullable=True),
    Column("claimed_at", DateTime, nullable=True),
    Column("created_at", DateTime, nullable=False),
    Column("delivered_at", DateTime, nullable=True),
    Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
    Index("ix_webhook_deliveries_hook", "webhook_id", "id"),
)
