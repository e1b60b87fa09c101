"""The complete schema: every table module registered on one MetaData (Alembic reads this)."""

from __future__ import annotations

from reportcard.db import (
    activity_tables,
    audit_tables,
    cd2_sync_tables,
    cd2_tables,
    learning_tables,
    notify_tables,
    schedule_tables,
    sis_import_tables,
    web_tables,
)
from reportcard.db.tables import metadata

__all__ = [
    "activity_tables",
    "audit_tables",
    "cd2_sync_tables",
    "cd2_tables",
    "learning_tables",
    "metadata",
    "notify_tables",
    "schedule_tables",
    "sis_import_tables",
    "web_tables",
]
