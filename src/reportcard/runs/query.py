"""Turning a part's declared query into rows: key ranges, ordering, formatting, streaming."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import ColumnElement, Connection, Label, Select, func, select
from sqlalchemy.sql.elements import BindParameter

from reportcard.reports.catalog import TIME, Cells, Col, PartQuery, RunContext
from reportcard.reports.formatting import time_formatter
from reportcard.reports.sqlformat import MARK, sql_form

BATCH = 1000  # rows per fetch, and per progress checkpoint


def range_select(
    pq: PartQuery,
    lo: int | BindParameter[int] | None = None,
    hi: int | BindParameter[int] | None = None,
    columns: Sequence[ColumnElement[Any]] | None = None,
) -> Select:
    """The part's SELECT for keys in ``[lo, hi]`` (both inclusive), ordered by the key; a bound
    parameter for either is given its value at each execution.

    ``columns`` replaces the part's own column expressions (the SQLite line path selects one
    expression built from them).
    """
    exprs = [c.expr for c in pq.columns] if columns is None else list(columns)
    stmt = select(*exprs).select_from(pq.select_from).where(*pq.where)
    if lo is not None:
        stmt = stmt.where(pq.key >= lo)
    if hi is not None:
        stmt = stmt.where(pq.key <= hi)
    return stmt.order_by(pq.key, *pq.then_by)


def bounds_select(pq: PartQuery) -> Select:
    """min(key), max(key), count(*) over the part's rows (or its cheaper bounds query)."""
    frm = pq.bounds_from if pq.bounds_from is not None else pq.select_from
    where = pq.bounds_where if pq.bounds_where is not None else pq.where
    key = pq.bounds_key if pq.bounds_key is not None else pq.key
    return select(func.min(key), func.max(key), func.count()).select_from(frm).where(*where)


@dataclass(frozen=True)
class Fallback:
    """The formatter of a column the database formats itself (``reports.sqlformat``).

    A value starting with ``MARK`` is a stored value SQL left to Python: ``fmt`` formats what
    follows the mark. Any other value is already the written text.
    """

    fmt: Callable[[Any], Any]

    def __call__(self, value: Any) -> Any:
        if value.__class__ is str and value.startswith(MARK):
            return self.fmt(value[1:])
        return value


def sql_formatted(pq: PartQuery, ctx: RunContext) -> PartQuery:
    """``pq`` with each column whose formatter has a SQL form formatted by the database.

    Such a column's formatter becomes a :class:`Fallback` to the Python formatter, for the
    rare values SQL leaves to it; with no other formatter, the part can take the fast paths
    (``runs.write``) with the same bytes. On SQLite, whose string and date functions cost
    about what Python's formatting does, only when every formatter of the part has a SQL form
    there: the part then takes the line path, else ``pq`` is returned as it is.
    """
    forms = [sql_form(col.fmt, ctx.dialect) for col in pq.columns]
    if ctx.dialect == "sqlite" and any(
        build is None and col.fmt is not None for col, build in zip(pq.columns, forms, strict=True)
    ):
        return pq
    cols: list[Col] = []
    for col, build in zip(pq.columns, forms, strict=True):
        if build is None:
            cols.append(col)
            continue
        expr = col.expr.element if isinstance(col.expr, Label) else col.expr
        built = build(expr, ctx)
        if built is None:  # the form does not apply to this expression
            if ctx.dialect == "sqlite":
                return pq
            cols.append(col)
            continue
        py = time_formatter(ctx.time_zone) if col.fmt == TIME else col.fmt
        assert callable(py)
        cols.append(replace(col, expr=built.label(col.header), fmt=Fallback(py)))
    return replace(pq, columns=cols)


def row_formatter(
    pq: PartQuery, ctx: RunContext
) -> Callable[[Sequence[Any]], Sequence[Any]] | None:
    """A function applying the columns' formatters to a raw row, or None when none has one."""
    fmts: list[tuple[int, Callable[[Any], Any]]] = []
    tfmt = time_formatter(ctx.time_zone)
    for i, col in enumerate(pq.columns):
        if col.fmt is None:
            continue
        if col.fmt == TIME:
            fmts.append((i, tfmt))
        elif callable(col.fmt):
            fmts.append((i, col.fmt))
        else:
            raise ValueError(f"unknown formatter {col.fmt!r} for column {col.header}")
    if not fmts:
        return None

    def apply(row: Sequence[Any]) -> Sequence[Any]:
        out = list(row)
        spread = False
        for i, fn in fmts:
            value = out[i] = fn(out[i])
            spread = spread or isinstance(value, Cells)
        if spread:  # a formatter's Cells replace its one cell
            return [c for v in out for c in (v if isinstance(v, Cells) else (v,))]
        return out

    return apply


def stream_batches(
    conn: Connection, stmt: Select, batch: int = BATCH
) -> Generator[Sequence[Sequence[Any]], None, None]:
    """Raw DBAPI rows in batches, from a server-side cursor where the database has one.

    Rows come straight from the driver (no SQLAlchemy row processing): timestamps arrive as
    ``datetime`` (PostgreSQL) or ISO text (SQLite), which the TIME formatter accepts both.
    """
    if conn.dialect.name == "sqlite":
        # sqlite3 cursors step lazily: read the DBAPI cursor directly (no row objects).
        result = conn.execute(stmt)
        cursor = result.cursor
        try:
            while True:
                rows = cursor.fetchmany(batch)
                if not rows:
                    break
                yield rows
        finally:
            result.close()
        return
    # Elsewhere a server-side cursor; partitions() needs its size or it buffers everything.
    # Per statement: Connection.execution_options() would change the connection for good.
    options = {"stream_results": True, "yield_per": batch}
    streamed = conn.execute(stmt, execution_options=options)
    try:
        yield from streamed.partitions(batch)
    finally:
        streamed.close()


def part_rows(
    conn: Connection, pq: PartQuery, ctx: RunContext, lo: int | None = None, hi: int | None = None
) -> Iterator[Sequence[Any]]:
    """Every formatted row of a part (or of one key range of it), in key order."""
    fmt = row_formatter(pq, ctx)
    for rows in stream_batches(conn, range_select(pq, lo, hi)):
        if fmt is None:
            yield from rows
        else:
            for row in rows:
                yield fmt(row)
