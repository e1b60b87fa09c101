"""The bulk writer: generated rows into the database through the raw DBAPI connection.

Everything runs inside the caller's SQLAlchemy transaction, on the same connection:

* SQLite: ``executemany`` over chunks of the row generator; for big loads
  ``synchronous=OFF`` for the duration (restored afterwards), and secondary indexes dropped
  before and recreated after. (A bigger page cache was tried: no faster, twice the RSS.)
* PostgreSQL (psycopg 3): ``COPY … FROM STDIN`` with ``write_row``; for big loads secondary
  indexes and foreign keys dropped before and restored after (the per-row foreign key checks
  took 47 s for 2M enrollments; re-adding the keys validates them in about a second).
  Sequences are moved past the explicit ids afterwards. Dropping keys locks the referenced
  tables until the load commits.
* Anything else: ``executemany`` in the driver's parameter style.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from itertools import islice
from typing import Any

from sqlalchemy import Connection, text

from .build import Row, TableRows

Progress = Callable[[str, int, int], None]

_PLACEHOLDER = {"qmark": "?", "format": "%s", "pyformat": "%s"}

_SQLITE_INDEXES = text(
    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = :t AND sql IS NOT NULL"
)
_PG_CONSTRAINTS = text(
    "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
    "WHERE conrelid = to_regclass(:t) AND contype IN ('f', 'p') ORDER BY conname"
)
# Indexes that do not back a constraint (those go with their constraint).
_PG_INDEXES = text(
    "SELECT i.indexname, i.indexdef FROM pg_indexes i "
    "WHERE i.schemaname = current_schema() AND i.tablename = :t "
    "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = "
    "to_regclass(format('%I.%I', i.schemaname, i.indexname))) ORDER BY i.indexname"
)


class BulkLoader:
    """Bulk writes for one SQLAlchemy connection (see the module docstring)."""

    def __init__(self, conn: Connection, chunk: int = 50_000) -> None:
        self.conn = conn
        self.chunk = chunk
        self.dialect = conn.dialect.name
        self.driver: Any = conn.connection.driver_connection

    # ------------------------------------------------------------------ session settings
    @contextmanager
    def fast_session(self, enabled: bool = True) -> Iterator[None]:
        """SQLite: ``synchronous=OFF`` for a big load (call outside a transaction); restores
        the connection's previous setting on the way out."""
        if not enabled or self.dialect != "sqlite":
            yield
            return
        cur = self.driver.cursor()
        saved = int(cur.execute("PRAGMA synchronous").fetchone()[0])
        cur.execute("PRAGMA synchronous=OFF")
        try:
            yield
        finally:
            cur.execute(f"PRAGMA synchronous={saved}")
            cur.close()

    # ------------------------------------------------------------------ reads
    def max_ids(self, tables: Sequence[str]) -> dict[str, int]:
        """The highest id in each table (0 when empty)."""
        return {
            t: int(self.conn.execute(text(f"SELECT COALESCE(MAX(id), 0) FROM {t}")).scalar_one())
            for t in tables
        }

    # ------------------------------------------------------------------ writes
    def write(self, spec: TableRows, progress: Progress | None = None) -> int:
        """Insert every row of ``spec`` in chunks; returns the number of rows written.

        ``progress(table, done, total)`` is called first with the estimate as total, after
        each chunk, and last with ``done == total`` (exactly once).
        """
        if progress:
            progress(spec.table, 0, spec.estimate)
        rows = iter(spec.rows)
        done = 0
        with self._sink(spec) as sink:
            batch = list(islice(rows, self.chunk))
            while batch:
                sink(batch)
                done += len(batch)
                batch = list(islice(rows, self.chunk))
                if progress:
                    progress(spec.table, done, max(done + 1, spec.estimate) if batch else done)
        if progress and not done and spec.estimate:
            progress(spec.table, 0, 0)
        return done

    @contextmanager
    def _sink(self, spec: TableRows) -> Iterator[Callable[[list[Row]], None]]:
        """A function that writes one chunk of rows into ``spec.table``."""
        columns = ", ".join(spec.columns)
        if self.dialect == "postgresql" and self.conn.dialect.driver == "psycopg":
            with (
                self.driver.cursor() as cur,
                cur.copy(f"COPY {spec.table} ({columns}) FROM STDIN") as copy,
            ):
                write_row = copy.write_row

                def copy_rows(batch: list[Row]) -> None:
                    for row in batch:
                        write_row(row)

                yield copy_rows
            return
        mark = _PLACEHOLDER.get(self.conn.dialect.paramstyle, "?")
        sql = (
            f"INSERT INTO {spec.table} ({columns}) VALUES ({', '.join([mark] * len(spec.columns))})"
        )
        cur = self.driver.cursor()
        try:
            yield lambda batch: cur.executemany(sql, batch)
        finally:
            cur.close()

    # ------------------------------------------------------------------ indexes and keys
    def relax(self, tables: Sequence[str], *, primary_keys: bool = False) -> list[str]:
        """Drop what slows bulk inserts into ``tables``; returns the DDL that restores it.

        Secondary indexes go everywhere. On PostgreSQL foreign keys go too (their per-row
        checks cost more than the inserts; re-adding one validates in a single join), and with
        ``primary_keys`` the primary key as well (only for tables no foreign key points at).
        SQLite does not enforce foreign keys here and cannot drop a primary key.
        """
        restore: list[tuple[int, str]] = []  # (rank, ddl): keys, then indexes, then FKs
        for table in tables:
            if self.dialect == "sqlite":
                for name, ddl in self.conn.execute(_SQLITE_INDEXES, {"t": table}).all():
                    self.conn.exec_driver_sql(f'DROP INDEX "{name}"')
                    restore.append((1, str(ddl)))
            elif self.dialect == "postgresql":
                restore += self._relax_postgres(table, primary_keys)
        return [ddl for _, ddl in sorted(restore, key=lambda r: r[0])]

    def _relax_postgres(self, table: str, primary_keys: bool) -> list[tuple[int, str]]:
        restore: list[tuple[int, str]] = []
        for name, kind, definition in self.conn.execute(_PG_CONSTRAINTS, {"t": table}).all():
            if kind == "f" or (kind == "p" and primary_keys):
                self.conn.exec_driver_sql(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
                ddl = f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
                restore.append((2 if kind == "f" else 0, ddl))
        for name, ddl in self.conn.execute(_PG_INDEXES, {"t": table}).all():
            self.conn.exec_driver_sql(f'DROP INDEX "{name}"')
            restore.append((1, str(ddl)))
        return restore

    def restore(self, ddl: Sequence[str]) -> None:
        """Run the statements :meth:`relax` returned."""
        for statement in ddl:
            self.conn.exec_driver_sql(statement)

    # ------------------------------------------------------------------ afterwards
    def analyze(self, tables: Sequence[str]) -> None:
        """Refresh planner statistics for ``tables``."""
        if self.dialect not in ("sqlite", "postgresql"):
            return
        for table in tables:
            self.conn.exec_driver_sql(f"ANALYZE {table}")

    def fix_sequences(self, tables: Sequence[str]) -> None:
        """PostgreSQL: move each ``id`` sequence past the explicit ids just inserted."""
        if self.dialect != "postgresql":
            return
        for table in tables:
            self.conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence(:t, 'id'), "
                    f"(SELECT MAX(id) FROM {table}))"
                ),
                {"t": table},
            )
