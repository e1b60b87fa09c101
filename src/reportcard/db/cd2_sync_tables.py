"""Tables of ``reportcard cd2 sync`` (a database kept by ``dap initdb``/``dap syncdb``).

A synced database has no per-row ``meta.ts``, only a sync position per table
(``instructure_dap.table_sync.timestamp``). So ``cd2 sync`` keeps:

* ``cd2_sync_tables``: per CD2 table, the source and the sync position last applied; a table
  whose position has not moved is not read again;
* ``cd2_sync_rows``: per row applied from a synced table, an md5 of the values reportcard reads;
  a table whose position moved is read whole and only the rows whose hash changed (or that
  disappeared) are applied.

All timestamps are naive UTC.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, String, Table

from reportcard.db.tables import metadata

cd2_sync_tables = Table(
    "cd2_sync_tables",
    metadata,
    Column("cd2_table", String(64), primary_key=True),
    Column("source", String(255), nullable=False),  # the source database and schema (no password)
    Column("synced_to", DateTime, nullable=False),  # table_sync.timestamp applied
    Column("applied_at", DateTime, nullable=False),
)

cd2_sync_rows = Table(
    "cd2_sync_rows",
    metadata,
    Column("cd2_table", String(64), primary_key=True),
    Column("key", BigInteger, primary_key=True),
    Column("hash", String(32), nullable=False),
)

__all__ = ["cd2_sync_rows", "cd2_sync_tables"]
