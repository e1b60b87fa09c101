"""Writing one shard's rows as CSV: Python's csv writer, or PostgreSQL's own COPY.

Both produce the same bytes (Canvas's CSV: comma, ``"`` quoting only where needed, ``\\n``,
NULL as an empty unquoted field). COPY is used on PostgreSQL when every column is written as
the database returns it and is text or an integer, so no Python formatting is needed.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import BinaryIO

from sqlalchemy import Engine, Integer, String, Text
from sqlalchemy.sql.sqltypes import NullType

from reportcard.db.engine import read_conn
from reportcard.reports.catalog import PartQuery, RunContext
from reportcard.runs.query import BATCH, range_select, row_formatter, stream_batches

Progress = Callable[[int], None]


def copy_eligible(engine: Engine, pq: PartQuery) -> bool:
    """True on PostgreSQL when COPY's CSV of the part equals the Python writer's."""
    if engine.dialect.name != "postgresql" or not pq.columns:
        return False
    for col in pq.columns:
        if col.fmt is not None:
            return False
        if not isinstance(col.expr.type, String | Text | Integer | NullType):
            return False
    return True


def write_python(
    engine: Engine,
    pq: PartQuery,
    ctx: RunContext,
    lo: int,
    hi: int,
    out: BinaryIO,
    progress: Progress,
) -> int:
    """Rows through ``csv.writer``, one batch at a time; returns the number of rows."""
    fmt = row_formatter(pq, ctx)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    written = 0
    with read_conn(engine) as conn:
        for rows in stream_batches(conn, range_select(pq, lo, hi), BATCH):
            writer.writerows(rows if fmt is None else [fmt(row) for row in rows])
            out.write(buf.getvalue().encode("utf-8"))
            buf.seek(0)
            buf.truncate()
            written += len(rows)
            progress(len(rows))
    return written


def write_copy(
    engine: Engine, pq: PartQuery, lo: int, hi: int, out: BinaryIO, progress: Progress
) -> int:
    """Rows through ``COPY (query) TO STDOUT WITH (FORMAT csv)``; returns the exact row count.

    Progress is estimated from the newlines streamed (a quoted field may hold one); the exact
    count from COPY's command tag corrects it at the end.
    """
    stmt = range_select(pq, lo, hi)
    sql = str(stmt.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
    counted = 0
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        with cur.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)") as copy:
            for chunk in copy:
                data = bytes(chunk)
                out.write(data)
                n = data.count(b"\n")
                counted += n
                progress(n)
        rows = int(cur.rowcount) if cur.rowcount is not None and cur.rowcount >= 0 else counted
        raw.commit()
    finally:
        raw.close()
    if rows != counted:
        progress(rows - counted)
    return rows
