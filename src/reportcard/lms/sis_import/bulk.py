"""Batched writes through the DBAPI cursor: ids handed out up front, executemany per table.

Rows are buffered per table in the order tables were first touched (parents first, which
PostgreSQL's foreign keys need) and written by :meth:`Bulk.flush` at the end of a batch.
Timestamps are passed in the form the database stores: SQLAlchemy's text form on SQLite
(``YYYY-MM-DD HH:MM:SS.ffffff``), ``datetime`` objects elsewhere.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, text


class Bulk:
    """The write buffer of one transaction (one batch of rows)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.sqlite = conn.dialect.name == "sqlite"
        self.mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        self._next: dict[str, int] = {}
        self._left: dict[str, int] = {}
        self.inserts: dict[tuple[str, tuple[str, ...]], list[dict[str, Any]]] = {}
        self.updates: dict[tuple[str, tuple[str, ...]], list[tuple[Any, ...]]] = defaultdict(list)
        self.statements: list[tuple[str, list[tuple[Any, ...]]]] = []

    def time(self, value: datetime | None) -> Any:
        """A timestamp in the form this database stores (None stays None)."""
        if value is None or not self.sqlite:
            return value
        # isoformat, not strftime: "%Y" does not pad years before 1000 to four digits, and
        # SQLAlchemy cannot read "1-01-02 00:00:00" back.
        return value.isoformat(sep=" ", timespec="microseconds")

    def db_time(self, value: Any) -> Any:
        """A timestamp read through SQLAlchemy, back in :meth:`time`'s form."""
        return self.time(value) if isinstance(value, datetime) else value

    # ------------------------------------------------------------------ ids
    def new_id(self, table: str) -> int:
        """A fresh primary key for ``table`` (SQLite: past MAX(id), under the write lock)."""
        if self._left.get(table, 0) <= 0:
            self._refill(table, 256)
        value = self._next[table]
        self._next[table] = value + 1
        self._left[table] -= 1
        return value

    def _refill(self, table: str, n: int) -> None:
        if self.sqlite:
            if table not in self._next:
                top = self.conn.exec_driver_sql(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
                self._next[table] = int(top.scalar_one()) + 1
            self._left[table] = 1 << 62
            return
        take = text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)")
        ids = sorted(int(r) for r in self.conn.execute(take, {"t": table, "n": n}).scalars())
        top = self.conn.exec_driver_sql(f"SELECT COALESCE(MAX(id), 0) FROM {table}").scalar_one()
        if ids[0] <= int(top):
            # Rows were written with explicit ids behind the sequence's back: move it past them.
            self.conn.execute(
                text("SELECT setval(pg_get_serial_sequence(:t, 'id'), :v)"),
                {"t": table, "v": int(top)},
            )
            ids = sorted(int(r) for r in self.conn.execute(take, {"t": table, "n": n}).scalars())
        # nextval hands out increasing ids; a block is contiguous unless another session
        # interleaved, in which case only the contiguous head is used.
        run = 1
        while run < len(ids) and ids[run] == ids[0] + run:
            run += 1
        self._next[table] = ids[0]
        self._left[table] = run

    # ------------------------------------------------------------------ buffered writes
    def insert(self, table: str, row: dict[str, Any]) -> None:
        """Buffer ``row``; it is read at :meth:`flush`, so later changes to it are written."""
        self.inserts.setdefault((table, tuple(row)), []).append(row)

    def update(self, table: str, row_id: int, values: dict[str, Any]) -> None:
        cols = tuple(sorted(values))
        self.updates[(table, cols)].append((*(values[c] for c in cols), row_id))

    def execute_many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """A statement with ``?`` placeholders, run for every row after the buffered writes."""
        self.statements.append((sql, rows))

    def flush(self) -> None:
        for (table, cols), rows in self.inserts.items():
            if rows:
                marks = ", ".join([self.mark] * len(cols))
                sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})"
                get = itemgetter(*cols)
                if len(cols) == 1:
                    self.conn.exec_driver_sql(sql, [(get(r),) for r in rows])
                else:
                    self.conn.exec_driver_sql(sql, [get(r) for r in rows])
        for (table, cols), values in self.updates.items():
            sets = ", ".join(f"{c} = {self.mark}" for c in cols)
            self.conn.exec_driver_sql(f"UPDATE {table} SET {sets} WHERE id = {self.mark}", values)
        for sql, params in self.statements:
            if params:
                self.conn.exec_driver_sql(sql.replace("?", self.mark), params)
        self.inserts.clear()
        self.updates.clear()
        self.statements = []
