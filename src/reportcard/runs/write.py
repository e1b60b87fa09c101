"""Writing one shard's rows as CSV: Python's csv writer, PostgreSQL's COPY, or SQLite lines.

All three produce the same bytes (Canvas's CSV: comma, ``"`` quoting only where needed,
``\\n``, NULL as an empty unquoted field). The two fast paths apply when every column is
written as the database returns it and is text or an integer, so no Python formatting is
needed: COPY on PostgreSQL; on SQLite, SQL-built lines (see :func:`write_lines`). A column
the database formats itself (``runs.query.sql_formatted``) qualifies too: the rare value it
leaves to Python starts with ``MARK``, and the fast paths format the rows holding one in
Python (:class:`~reportcard.runs.query.Fallback`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Integer,
    Label,
    Null,
    Select,
    String,
    Text,
    cast,
    func,
    literal,
)
from sqlalchemy.sql.sqltypes import NullType

from reportcard.db.engine import read_conn
from reportcard.reports.catalog import PartQuery, RunContext
from reportcard.reports.sqlformat import MARK
from reportcard.runs.csvtext import BatchWriter, line
from reportcard.runs.pgcopy import CopyOut
from reportcard.runs.query import BATCH, Fallback, range_select, row_formatter, stream_batches

Progress = Callable[[int], None]


class Sink(Protocol):
    """Where a shard's CSV bytes go: its part file, or a deflate piece over it."""

    def write(self, data: bytes, /) -> int: ...


# Field and line separators of a SQLite-built line; see write_lines.
FIELD_SEP = "\x1f"
# printf() takes at most 127 arguments (SQLITE_MAX_FUNCTION_ARG); wider parts use csv.writer.
MAX_LINE_COLUMNS = 100
# Characters that make a field quoted (the newline is counted separately).
QUOTED = (",", '"', "\r")


def copy_eligible(engine: Engine, pq: PartQuery) -> bool:
    """True on PostgreSQL when COPY's CSV of the part equals the Python writer's."""
    if engine.dialect.name != "postgresql" or not pq.columns:
        return False
    for col in pq.columns:
        if col.fmt is not None and not isinstance(col.fmt, Fallback):
            return False
        if not isinstance(col.expr.type, String | Text | Integer | NullType):
            return False
    return True


def lines_eligible(engine: Engine, pq: PartQuery) -> bool:
    """True on SQLite when SQL-built lines give the Python writer's bytes for the part.

    Every column must be written as stored and be text or an integer (whose text SQLite and
    Python write alike; a REAL would not be: SQLite prints 15 significant digits). An untyped
    column qualifies only when it is a literal NULL. One column is left to csv.writer, which
    quotes a lone empty field.
    """
    if engine.dialect.name != "sqlite" or not 2 <= len(pq.columns) <= MAX_LINE_COLUMNS:
        return False
    for col in pq.columns:
        if col.fmt is not None and not isinstance(col.fmt, Fallback):
            return False
        if isinstance(col.expr.type, NullType):
            inner = col.expr.element if isinstance(col.expr, Label) else col.expr
            if not isinstance(inner, Null):  # a labelled NULL (sis_export's password) too
                return False
        elif not isinstance(col.expr.type, String | Text | Integer):
            return False
    return True


def write_python(
    engine: Engine,
    pq: PartQuery,
    ctx: RunContext,
    lo: int,
    hi: int,
    out: Sink,
    progress: Progress,
) -> int:
    """Rows through ``csv.writer``, one batch at a time; returns the number of rows."""
    fmt = row_formatter(pq, ctx)
    csv_text = BatchWriter()
    written = 0
    with read_conn(engine) as conn:
        for rows in stream_batches(conn, range_select(pq, lo, hi), BATCH):
            text = csv_text.text(rows if fmt is None else [fmt(row) for row in rows])
            out.write(text.encode("utf-8"))
            written += len(rows)
            progress(len(rows))
    return written


def copy_select(pq: PartQuery, lo: int | None = None, hi: int | None = None) -> Select:
    """The SELECT that COPY writes: the part's, with text columns through ``NULLIF(.., '')``."""
    return range_select(pq, lo, hi, columns=[_blank_as_null(c.expr) for c in pq.columns])


def write_copy(
    engine: Engine, pq: PartQuery, lo: int, hi: int, out: Sink, progress: Progress
) -> int:
    """Rows through ``COPY (query) TO STDOUT WITH (FORMAT csv)``; returns the exact row count.

    Progress is estimated from the newlines streamed (a quoted field may hold one); the exact
    count from COPY's command tag corrects it at the end. COPY writes an empty string as
    ``""``; the other paths (and Canvas, which stores blanks as NULL) write an empty field, so
    text columns go through ``NULLIF(.., '')``.
    """
    stmt = copy_select(pq, lo, hi)
    sql = str(stmt.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
    fallbacks = _fallbacks(pq)
    mark = MARK.encode()
    counted = 0
    raw = engine.raw_connection()
    try:
        copy = CopyOut(raw.driver_connection, f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", BATCH)
        for batch in copy:
            data = b"".join(batch)
            if fallbacks and mark in data:
                data = b"".join([_copy_row(r, fallbacks) if mark in r else r for r in batch])
            out.write(data)
            n = data.count(b"\n")
            progress(n)
            counted += n
    except BaseException:
        raw.invalidate()  # mid-COPY: the connection cannot go back to the pool
        raise
    finally:
        raw.close()
    if copy.rows != counted:
        progress(copy.rows - counted)
    return copy.rows


def write_lines(
    engine: Engine,
    pq: PartQuery,
    lo: int,
    hi: int,
    out: Sink,
    progress: Progress,
    batch: int = BATCH,
) -> int:
    """Rows as lines SQLite builds itself; returns the number of rows.

    The database joins a row's fields with ``\\x1f`` (``printf('%s\\x1f%s...')``, NULL as
    empty): one string per row instead of a tuple, and no csv module. A batch whose text holds
    no comma, quote or carriage return, exactly one ``\\x1f`` per field boundary and one
    newline per line boundary needs no quoting at all: the separators become commas and it is
    written as is. Otherwise the batch goes through ``csv.writer`` (:mod:`.csvtext`): split on
    ``\\x1f`` when the count shows no field holds one, else re-read as raw rows from the same
    snapshot.
    """
    ncols = len(pq.columns)
    fallbacks = _fallbacks(pq)
    fmt = literal(FIELD_SEP.join(["%s"] * ncols))
    stmt = range_select(pq, lo, hi, columns=[func.printf(fmt, *(c.expr for c in pq.columns))])
    csv_text = BatchWriter()
    written = 0
    with read_conn(engine) as conn:
        conn.exec_driver_sql("BEGIN")  # one snapshot for the lines and any raw re-read
        batches = stream_batches(conn, stmt, batch)
        try:
            for rows in batches:
                k = len(rows)
                text = "\n".join([r[0] for r in rows])
                seps = text.count(FIELD_SEP)
                if (
                    not any(q in text for q in QUOTED)
                    and seps == k * (ncols - 1)
                    and text.count("\n") == k - 1
                    and (not fallbacks or MARK not in text)
                ):
                    out.write(text.replace(FIELD_SEP, ",").encode("utf-8"))
                    out.write(b"\n")
                else:
                    if seps == k * (ncols - 1):
                        fields = [r[0].split(FIELD_SEP) for r in rows]
                    else:
                        fields = _raw_batch(conn, pq, lo, hi, written, k)
                    if fallbacks:
                        fields = [_formatted(row, fallbacks) for row in fields]
                    out.write(csv_text.text(fields).encode("utf-8"))
                written += k
                progress(k)
        finally:
            batches.close()
            conn.exec_driver_sql("ROLLBACK")
    return written


def _fallbacks(pq: PartQuery) -> list[tuple[int, Fallback]]:
    """(position, formatter) of the columns the database formats, with a Python fallback."""
    return [(i, c.fmt) for i, c in enumerate(pq.columns) if isinstance(c.fmt, Fallback)]


def _formatted(row: Sequence[Any], fallbacks: list[tuple[int, Fallback]]) -> Sequence[Any]:
    """The row with the values SQL left to Python (``MARK`` + stored value) formatted."""
    marked = [(i, fb) for i, fb in fallbacks if isinstance(row[i], str) and row[i].startswith(MARK)]
    if not marked:
        return row
    out = list(row)
    for i, fb in marked:
        out[i] = fb(out[i])
    return out


def _copy_row(data: bytes, fallbacks: list[tuple[int, Fallback]]) -> bytes:
    """One COPY CSV row holding ``MARK``: its marked values formatted, re-written as CSV.

    COPY and :func:`csvtext.line` quote the same fields (``,``, ``"``, ``\\n``, ``\\r``) and
    write NULL (and, through ``NULLIF``, the empty string) as an empty field, so the fields
    left alone keep their bytes.
    """
    fields = next(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    row = _formatted(fields, fallbacks)
    if row is fields:
        return data  # the mark was inside another column's value
    return line(row).encode("utf-8")


def _blank_as_null(expr: ColumnElement[Any]) -> ColumnElement[Any]:
    if isinstance(expr.type, Integer):
        return expr
    return func.nullif(cast(expr, Text), "").label(None)


def _raw_batch(
    conn: Connection, pq: PartQuery, lo: int, hi: int, offset: int, limit: int
) -> list[Sequence[Any]]:
    """Raw rows ``offset .. offset+limit-1`` of the shard, in the same snapshot.

    The same FROM, WHERE and ORDER BY over the same columns give the same plan, so the same
    order even among rows that tie on the sort key. Reads the shard from its start: this
    path is taken only when a value holds the field separator.
    """
    result = conn.execute(range_select(pq, lo, hi))
    try:
        cursor = result.cursor
        while offset > 0:
            skipped = cursor.fetchmany(min(offset, BATCH))
            if not skipped:
                break
            offset -= len(skipped)
        return list(cursor.fetchmany(limit))
    finally:
        result.close()
