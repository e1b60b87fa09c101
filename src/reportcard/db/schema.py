"""The complete schema: every table module registered on one MetaData (Alembic reads this)."""

from __future__ import annotations

from reportcard.db import activity_tables, learning_tables, sis_import_tables
from reportcard.db.tables import metadata

__all__ = ["activity_tables", "learning_tables", "metadata", "sis_import_tables"]
