"""Tables of the Canvas Data 2 importer (``reportcard cd2``): its own bookkeeping.

* ``cd2_table_state``: per CD2 table, what the last import applied (``reportcard cd2 status``):
  the newest ``meta.ts`` applied, so the next incremental can be chained from it.
* ``cd2_rows``: per CD2 row ever applied, the ``meta.ts`` of the version applied (newest wins:
  an older record never overwrites a newer one) and whether it was a delete (a tombstone, so a
  late, older upsert cannot bring a purged row back). ``--snapshot`` removes the rows of the
  root account listed here that a snapshot no longer holds.
* ``cd2_master_templates``: CD2's blueprint templates (``master_courses_master_templates``),
  kept so blueprint subscriptions can name the blueprint course.

All timestamps are naive UTC.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, DateTime, Index, String, Table

from reportcard.db.tables import Id, metadata

cd2_table_state = Table(
    "cd2_table_state",
    metadata,
    Column("table_name", String(64), primary_key=True),  # the CD2 table (namespace canvas)
    Column("root_account_id", Id, nullable=True),
    Column("last_ts", DateTime, nullable=True),  # newest meta.ts applied (next since)
    Column("last_mode", String(16), nullable=False, default="incremental"),  # or snapshot
    Column("last_snapshot_at", DateTime, nullable=True),
    Column("records", BigInteger, nullable=False, default=0),  # records read by the last load
    Column("rows_upserted", BigInteger, nullable=False, default=0),  # by the last load
    Column("rows_deleted", BigInteger, nullable=False, default=0),  # by the last load
    Column("rows_total", BigInteger, nullable=False, default=0),  # live rows after it
    Column("source", String(255), nullable=True),  # files or sync source of the last load
    Column("applied_at", DateTime, nullable=False),
)

cd2_rows = Table(
    "cd2_rows",
    metadata,
    Column("cd2_table", String(64), primary_key=True),
    Column("key", BigInteger, primary_key=True),
    Column("root_account_id", Id, nullable=False),
    Column("ts", DateTime, nullable=False),
    Column("deleted", Boolean, nullable=False, default=False),
    Index("ix_cd2_rows_root", "cd2_table", "root_account_id"),
)

cd2_master_templates = Table(
    "cd2_master_templates",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=False),
    Column("course_id", Id, nullable=False),
    Column("workflow_state", String(32), nullable=True),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

__all__ = ["cd2_master_templates", "cd2_rows", "cd2_table_state"]
