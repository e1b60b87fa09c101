"""Planner statistics after a CD2 load (PostgreSQL).

A first snapshot or sync fills empty tables with millions of rows; until autovacuum gets to
them PostgreSQL plans the reports' joins without statistics, and a report that takes seconds
on an analyzed database can run for many minutes. :func:`analyze_changed` runs ``ANALYZE`` on
the reportcard tables a load changed much, and on the derived tables rebuilt after it. Used by
``cd2 import`` and ``cd2 sync``; nothing to do on SQLite (its planner needs no statistics for
these plans).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection

from reportcard.db.cd2_tables import rows_table
from reportcard.lms.cd2.apply import TableSummary
from reportcard.lms.cd2.mapping import TABLES

# Rows a table's load must touch before its targets are analyzed again.
MIN_ROWS = 1000
# ... and at least this share of the rows the table had (planner statistics, -1 when it was
# never analyzed): an incremental touching 1% leaves them to autovacuum.
SHARE = 0.1


def _rows(conn: Connection, table: str) -> float:
    found = conn.exec_driver_sql(
        "SELECT reltuples FROM pg_class WHERE oid = to_regclass(%(t)s)", {"t": table}
    ).scalar()
    return max(float(found or 0), 0.0)


# Derived tables the rebuild rewrites (and the changed tables' own bookkeeping, cd2_rows_<t>).
DERIVED_TABLES = ("account_ancestors", "user_account_associations")


def analyze_changed(conn: Connection, summaries: Iterable[TableSummary]) -> list[str]:
    """``ANALYZE`` the targets of the CD2 tables that changed much; returns the tables."""
    names = changed_tables(conn, summaries)
    if names:
        with conn.begin():
            for name in names:
                conn.exec_driver_sql(f'ANALYZE "{name}"')
    return names


def changed_tables(conn: Connection, summaries: Iterable[TableSummary]) -> list[str]:
    """The tables :func:`analyze_changed` analyzes (none on SQLite)."""
    if conn.dialect.name != "postgresql":
        return []
    by_name = {t.name: t for t in TABLES}
    names: set[str] = set()
    for s in summaries:
        changed = s.upserted + s.deleted
        if changed >= MIN_ROWS and s.table in by_name:
            for target in by_name[s.table].targets:
                if changed >= SHARE * _rows(conn, target.table):
                    names.update((target.table, rows_table(s.table)))
    conn.rollback()
    if not names:
        return []
    names.update(DERIVED_TABLES)
    return sorted(names)
