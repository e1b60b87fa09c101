"""``COPY ... TO STDOUT`` read straight from libpq, in batches of rows.

psycopg's ``Cursor.copy()`` hands over one row per iteration through a chain of Python
generators: for the large provisioning enrollments file that was 2.1 s of the worker's CPU for
1.2 million rows, beside the database's own work on the other core. Asking libpq for the rows
directly (``PGconn.get_copy_data``) halves that (docs/decisions/performance.md).

libpq's blocking calls hold the GIL while they wait, which would stall the worker's heartbeat
thread behind a slow query; so every call here is non-blocking, and the waiting is done by
``poll`` on the connection's socket, which releases it.
"""

from __future__ import annotations

import select
from collections.abc import Iterator
from typing import Any

import psycopg
from psycopg import pq
from psycopg.pq.abc import PGresult


class CopyOut:
    """One ``COPY (query) TO STDOUT`` on a psycopg connection that is idle.

    Iterate for lists of raw rows (bytes, each ending in a newline), up to ``batch`` rows at
    a time; once the iteration ends, ``rows`` holds the server's count. An exception while
    iterating leaves the connection mid-COPY: the caller must close it.
    """

    def __init__(self, conn: Any, statement: str, batch: int) -> None:
        if not isinstance(conn, psycopg.Connection):
            raise TypeError(f"COPY needs a psycopg connection, not {type(conn).__name__}")
        self.pg = conn.pgconn
        self.statement = statement.encode()
        self.batch = batch
        self.rows = 0
        self._poll = select.poll()
        self._poll.register(self.pg.socket, select.POLLIN)

    def _wait(self) -> None:
        self._poll.poll()
        self.pg.consume_input()

    def _result(self) -> PGresult | None:
        while self.pg.is_busy():
            self._wait()
        return self.pg.get_result()

    def _fail(self, res: PGresult | None) -> psycopg.Error:
        text = res.error_message if res is not None else self.pg.error_message
        return psycopg.OperationalError(text.decode(errors="replace").strip() or "COPY failed")

    def __iter__(self) -> Iterator[list[bytes]]:
        pg = self.pg
        pg.send_query(self.statement)
        res = self._result()
        if res is None or res.status != pq.ExecStatus.COPY_OUT:
            raise self._fail(res)
        batch: list[bytes] = []
        while True:
            n, data = pg.get_copy_data(1)
            if n > 0:
                batch.append(bytes(data))
                if len(batch) >= self.batch:
                    yield batch
                    batch = []
            elif n == 0:
                self._wait()
            elif n == -1:
                break
            else:
                raise self._fail(None)
        if batch:
            yield batch
        res = self._result()
        if res is None or res.status != pq.ExecStatus.COMMAND_OK:
            raise self._fail(res)
        self.rows = int(res.command_tuples or 0)
        while self._result() is not None:  # the end of the query's results
            pass
