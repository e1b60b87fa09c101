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
from bisect import bisect_right
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import accumulate, compress, repeat
from operator import contains, itemgetter
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
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    select,
    type_coerce,
)
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.sqltypes import NullType

from reportcard.db.engine import allow_parallel_query, read_conn
from reportcard.reports.catalog import TIME, Col, Formatter, PartQuery, RunContext
from reportcard.reports.formatting import time_formatter
from reportcard.reports.sqlformat import MARK
from reportcard.rubyfloat import ruby_float
from reportcard.runs.csvtext import BatchWriter, csv_lines, line
from reportcard.runs.keyplan import walks_key
from reportcard.runs.pgcopy import CopyOut
from reportcard.runs.query import BATCH, Fallback, range_select, row_formatter, stream_batches

Progress = Callable[[int], None]
# A batch's lines, each without its newline, when they are asked for.
Lines = Callable[[], list[bytes]]


class Sink(Protocol):
    """Where a shard's CSV bytes go: its part file, or a deflate piece over it."""

    def write(self, data: bytes, /) -> int: ...


# Field and line separators of a SQLite-built line; see write_lines.
FIELD_SEP = "\x1f"
# The page cache (KiB) of a statement of the line or csv path once it has started, against the
# connection's 8 MB: the lookups of the enrollments files (logins, sections, courses by id)
# re-read the same pages, and on `large` 8 MB cost 1.9-2.1 s of system time in reads
# (docs/decisions/performance.md, "the SQLite line path, where the time goes"); so do the
# outcome parts' dozen probes a row ("where the baselines' time goes: page reads"). A part may
# declare its own (PartQuery.sqlite_cache_kib: the grade files, whose probes rarely read a page
# again, run faster in 2 MB: "the SQLite grade files, their page cache ...").
LINES_CACHE_KIB = 32768


def cache_kib(pq: PartQuery) -> int:
    """The page cache (KiB) of the part's statement once it has started, on SQLite."""
    return LINES_CACHE_KIB if pq.sqlite_cache_kib is None else pq.sqlite_cache_kib


# printf() takes at most 127 arguments (SQLITE_MAX_FUNCTION_ARG); wider parts use csv.writer.
MAX_LINE_COLUMNS = 100


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
    Python write alike; a REAL would not be: SQLite prints 15 significant digits), or have a
    formatter the line path applies itself (:func:`line_formatted`: stored times and float
    scores, whatever their type). An untyped column qualifies only when it is a literal NULL.
    One column is left to csv.writer, which quotes a lone empty field.
    """
    if engine.dialect.name != "sqlite" or not 2 <= len(pq.columns) <= MAX_LINE_COLUMNS:
        return False
    for col in pq.columns:
        if line_formatted(col):
            continue
        if col.fmt is not None and not isinstance(col.fmt, Fallback):
            return False
        if isinstance(col.expr.type, NullType):
            inner = col.expr.element if isinstance(col.expr, Label) else col.expr
            if not isinstance(inner, Null):  # a labelled NULL (sis_export's password) too
                return False
        elif not isinstance(col.expr.type, String | Text | Integer):
            return False
    return True


def line_formatted(col: Col) -> bool:
    """Whether the SQLite line path formats the column's stored values in Python itself.

    Its formatter is one whose text never needs a separator of the line (``TIME``, Ruby's
    float text), so the value goes between SQL-built pieces of the line (:func:`write_lines`);
    a value that still holds one is caught by the batch's counts, as any other value.
    """
    return (col.fmt == TIME or col.fmt is ruby_float) and not col.commas


def write_python(
    engine: Engine,
    pq: PartQuery,
    ctx: RunContext,
    lo: int,
    hi: int,
    out: Sink,
    progress: Progress,
) -> int:
    """Rows through ``csv.writer``, one batch at a time; returns the number of rows.

    On SQLite the statement gets the line path's bigger page cache once it has started
    (:data:`LINES_CACHE_KIB`, as in :func:`write_lines`): the float parts' rows (the outcome
    reports, the grade exports) probe about a dozen tables each and read their pages again.
    """
    fmt = row_formatter(pq, ctx)
    csv_text = BatchWriter()
    written = 0
    with read_conn(engine) as conn:
        dbapi = conn.connection.dbapi_connection if engine.dialect.name == "sqlite" else None
        cache = None if dbapi is None else dbapi.execute("PRAGMA cache_size").fetchone()[0]
        try:
            for rows in stream_batches(conn, range_select(pq, lo, hi), BATCH):
                if not written and dbapi is not None:
                    # Any sort of the statement was sized by the cache it started with.
                    dbapi.execute(f"PRAGMA cache_size = -{cache_kib(pq)}")
                text = csv_text.text(rows if fmt is None else [fmt(row) for row in rows])
                out.write(text.encode("utf-8"))
                written += len(rows)
                progress(len(rows))
        finally:
            if dbapi is not None and cache is not None:
                dbapi.execute(f"PRAGMA cache_size = {int(cache)}")
    return written


def copy_select(pq: PartQuery, lo: int | None = None, hi: int | None = None) -> Select:
    """The SELECT that COPY writes: the part's, with text columns through ``NULLIF(.., '')``."""
    return range_select(pq, lo, hi, columns=[_blank_as_null(c.expr) for c in pq.columns])


def write_copy(
    engine: Engine,
    pq: PartQuery,
    lo: int,
    hi: int,
    out: Sink,
    progress: Progress,
    parallel: bool = False,
) -> int:
    """Rows through ``COPY (query) TO STDOUT WITH (FORMAT csv)``; returns the exact row count.

    ``parallel``: the statement may use parallel query as the server is configured to
    (``db.engine.allow_parallel_query``); else none, as every reportcard session.

    Progress counts the messages streamed: PostgreSQL sends each row of a COPY in one
    (``runs.pgcopy``), so a batch's length is its rows, where counting its newlines read every
    byte again (and counted a quoted line break as a row); the exact count from COPY's
    command tag corrects it at the end all the same. COPY writes an empty string as
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
        if parallel:
            allow_parallel_query(raw.driver_connection)
        copy = CopyOut(raw.driver_connection, f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", BATCH)
        for batch in copy:
            data = b"".join(batch)
            if fallbacks and mark in data:
                data = b"".join([_copy_row(r, fallbacks) if mark in r else r for r in batch])
            out.write(data)
            n = len(batch)
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


def lines_select(
    pq: PartQuery, ctx: RunContext | None = None, lo: int | None = None, hi: int | None = None
) -> Select:
    """The statement :func:`write_lines` runs for ``pq``'s keys in ``[lo, hi]``."""
    return range_select(pq, lo, hi, columns=_LineShape(pq, ctx).exprs)


WHOLE_ROWS = 50_000
"""A shard of at most this many estimated rows is read by the SQLite line path as one value
(:func:`whole_select`), when its lines are SQL-built alone: 50,000 lines of a wide part are
about 10 MB of text, held two or three times over while the batch's text is made. The value
never holds more lines than this: a shard with more than its estimate (keys denser than the
plan's equal widths, a count from a cheaper bounds query) is read batch by batch instead."""


def whole_select(
    pq: PartQuery,
    ctx: RunContext | None = None,
    lo: int | BindParameter[int] | None = None,
    hi: int | BindParameter[int] | None = None,
) -> Select | None:
    """The line statement of ``pq``'s keys in ``[lo, hi]`` as one row: its row count and its
    lines joined by newlines (``group_concat``), in the statement's order, at most
    :data:`WHOLE_ROWS` + 1 of them (one more than a value is written from); None when a column
    is formatted in Python (:func:`line_formatted`: the lines are not SQLite's alone).

    The lines come in the order of the subquery's ORDER BY: SQLite keeps a FROM-clause
    subquery's ORDER BY when the subquery is the outer query's only source (its rule for
    omitting one applies only beside a join or an outer ORDER BY), and does not flatten an
    ordered subquery into an aggregate query; SQLite 3.44's ``ORDER BY`` inside the aggregate
    would sort every line again instead. The exact-bytes tests read every line-path part this
    way (``tests/runs/test_write.py``)."""
    lines = _line_range(pq, _LineShape(pq, ctx), lo, hi)
    return None if lines is None else _one_value(lines)


def _line_range(
    pq: PartQuery,
    shape: _LineShape,
    lo: int | BindParameter[int] | None,
    hi: int | BindParameter[int] | None,
) -> Select | None:
    """The lines of ``pq``'s keys in ``[lo, hi]``, at most :data:`WHOLE_ROWS` + 1, when SQLite
    builds them alone (else None)."""
    if shape.applied:
        return None
    line = shape.exprs[0].label("line")
    return range_select(pq, lo, hi, columns=[line]).limit(WHOLE_ROWS + 1)


def _one_value(lines: Select) -> Select:
    sub = lines.subquery()
    return select(func.count(), func.group_concat(sub.c.line, "\n")).select_from(sub)


CHUNK_ROWS = 5_000
"""About how many lines a big shard's chunk holds (:func:`write_lines`): each chunk is one run
of the statement over a range of keys, read as one value. Smaller chunks repeat the
statement's start more often (the users files build their Student View list at each start,
about 1.4 ms on ``large``; docs/decisions/performance.md, "a big shard's SQLite lines read in
chunks of keys")."""

CHUNK_LO, CHUNK_HI = "chunk_lo", "chunk_hi"


def chunk_statements(
    pq: PartQuery, ctx: RunContext | None = None, shape: _LineShape | None = None
) -> tuple[Select, Select] | None:
    """A big shard's chunk of lines as one value (:func:`whole_select` of the keys in
    ``[:chunk_lo, :chunk_hi]``, bound at each execution) and the lines' own statement, whose
    plan says whether chunks pay (``runs.keyplan``); None when the lines are not SQLite's
    alone."""
    keys = bindparam(CHUNK_LO, type_=Integer), bindparam(CHUNK_HI, type_=Integer)
    lines = _line_range(pq, _LineShape(pq, ctx) if shape is None else shape, *keys)
    return None if lines is None else (_one_value(lines), lines)


def write_lines(
    engine: Engine,
    pq: PartQuery,
    lo: int,
    hi: int,
    out: Sink,
    progress: Progress,
    batch: int = BATCH,
    ctx: RunContext | None = None,
    whole: bool = False,
    estimate: int | None = None,
) -> int:
    """Rows as lines SQLite builds itself; returns the number of rows.

    The database joins a row's fields with ``\\x1f`` (``printf('%s\\x1f%s...')``, NULL as
    empty): one value per row instead of a tuple, and no csv module. The lines are fetched as
    UTF-8 bytes (the connection's ``text_factory``), which Python neither decodes nor encodes
    again. A column whose values nearly all hold a comma (:attr:`Col.commas`, a sortable
    name) is wrapped in ``QUOTE`` (``\\x1d``), which becomes the quotes; SQL marks (``MARK``)
    a value of it without a comma, or starting with the mark. A batch is written as is, the
    separators turned into commas and quotes, when counting shows no value needs quoting but
    those (:func:`_lines_text`); a line holding a quote, a line break or a mark (a name with a
    nickname, a value SQL left to Python) is written alone by :func:`.csvtext.line` and put
    back in place. Any other batch goes through ``csv.writer`` (:mod:`.csvtext`): split on
    ``\\x1f`` when every line splits into the part's fields, else re-read as raw rows from
    the same snapshot. Each batch is written and counted (``progress``) on a second thread
    while the statement steps on to the next (:class:`_Behind`).

    A column the line path formats itself (:func:`line_formatted`, which needs ``ctx``) is
    selected as stored between the SQL-built pieces of the line around it, and formatted in
    Python, column by column over the batch; the pieces and the formatted values are joined
    into the line (:meth:`_LineShape.text_lines`), which then goes the same way.

    The statement starts with the part's :attr:`~.PartQuery.sort_kib` of page cache when it
    declares one (SQLite sizes a sort's memory by the cache at the statement's start), else
    the connection's.

    ``whole`` (a small shard, :data:`WHOLE_ROWS`): when the lines are SQLite's alone, they
    are read as one value (:func:`whole_select`: one step of the statement, no row's tuple
    and bytes in Python) and written as one batch, counted once. A shard that value cannot
    be written from (a value holding a newline, a separator or a wrapper) is read again
    batch by batch, in the same snapshot, as any other.

    ``estimate`` (a bigger shard's estimated rows): when the lines are SQLite's alone and
    SQLite walks the statement by its key (``runs.keyplan``), the shard is read in chunks of
    keys, each about :data:`CHUNK_ROWS` lines read as one value (:class:`_Chunked`).
    """
    shape = _LineShape(pq, ctx)
    with read_conn(engine) as conn:
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None
        conn.exec_driver_sql("BEGIN")  # one snapshot for the lines and any raw re-read
        cache = dbapi.execute("PRAGMA cache_size").fetchone()[0]
        if pq.sort_kib is not None:  # the part's sort sized by its own cache
            dbapi.execute(f"PRAGMA cache_size = -{int(pq.sort_kib)}")
        # SQL-built lines alone come as UTF-8 bytes; with values formatted here, as text.
        factory = str if shape.applied else bytes
        dbapi.text_factory = factory
        try:
            stmt = whole_select(pq, ctx, lo, hi) if whole else None
            if stmt is not None:
                written = _write_whole(conn, stmt, shape, out, progress)
                if written is not None:
                    return written
            chunks = chunk_statements(pq, shape=shape) if not whole and estimate else None
            if chunks is not None:
                one, lines = chunks
                if walks_key(conn, lines, pq.key, {CHUNK_LO: lo, CHUNK_HI: hi}):
                    assert estimate is not None
                    chunked = _Chunked(conn, pq, shape, one, out, progress, batch, factory)
                    return chunked.write(lo, hi, estimate)
            return _write_batches(conn, pq, shape, lo, hi, out, progress, batch, factory)
        finally:
            dbapi.text_factory = str
            conn.exec_driver_sql("ROLLBACK")
            dbapi.execute(f"PRAGMA cache_size = {int(cache)}")


class _LinesUnknown(Exception):
    """A batch read as one value needs its lines one by one: a value holds a newline."""


def _unknown_lines() -> list[bytes]:
    raise _LinesUnknown


def _write_whole(
    conn: Connection, stmt: Select, shape: _LineShape, out: Sink, progress: Progress
) -> int | None:
    """The shard's lines read as one value (:func:`whole_select`) and written as one batch;
    None, having written nothing, when the shard holds more than :data:`WHOLE_ROWS` lines or
    the batch's text cannot be shown right from that value (:func:`_batch_text` refuses it,
    or would need its lines one by one)."""
    count, joined = conn.execute(stmt).one()
    k = int(count)
    if not k:
        return 0
    if k > WHOLE_ROWS or not _write_value(joined, k, shape, out, progress):
        return None
    return k


def _write_value(joined: bytes, k: int, shape: _LineShape, out: Sink, progress: Progress) -> bool:
    """``k`` lines read as one value (joined by newlines) written and counted; False, having
    written nothing, when the text cannot be shown right from the value (:func:`_batch_text`
    refuses it, or would need its lines one by one)."""
    try:
        data = _batch_text(joined + b"\n", k, _unknown_lines, shape)
    except _LinesUnknown:
        return False
    if data is None:
        return False
    out.write(data)
    progress(k)
    return True


def _write_batches(
    conn: Connection,
    pq: PartQuery,
    shape: _LineShape,
    lo: int,
    hi: int,
    out: Sink,
    progress: Progress,
    batch: int,
    factory: type,
) -> int:
    """The shard's lines fetched ``batch`` at a time (see :func:`write_lines`), on ``conn``
    in its snapshot; returns the number of rows."""
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    stmt = range_select(pq, lo, hi, columns=shape.exprs)
    csv_text = BatchWriter()
    written = 0
    batches = stream_batches(conn, stmt, batch)
    behind = _Behind(out, progress)
    try:
        for rows in batches:
            k = len(rows)
            if not written:
                # The statement has started (any sort it does is sized by the cache it
                # started with): the pages it reads from now on get a bigger cache
                # (or the part's own).
                dbapi.execute(f"PRAGMA cache_size = -{cache_kib(pq)}")
            if shape.applied:
                texts = shape.text_lines(rows)
                data = _text_lines_text(texts, shape)
                split = None if data is not None else [shape.fields(t[:-1]) for t in texts]
            else:
                lines = [r[0] for r in rows]
                data = _lines_text(lines, shape)
                split = None if data is not None else [shape.fields(b.decode()) for b in lines]
            if data is None:
                assert split is not None
                fields: list[Sequence[Any]] = [f for f in split if f is not None]
                if len(fields) < k:
                    dbapi.text_factory = str
                    try:
                        fields = _raw_batch(conn, pq, lo, hi, written, k)
                    finally:
                        dbapi.text_factory = factory
                    fields = [shape.format_raw(row) for row in fields]
                data = csv_text.text(fields).encode("utf-8")
            behind.put(data, k)
            written += k
        behind.drain()
    finally:
        behind.close()
        batches.close()
    return written


class _Chunked:
    """A big shard's lines read in chunks of keys (:func:`write_lines` with ``estimate``).

    Each chunk is one run of the line statement over a range of keys, read as one value
    (``group_concat``: one step of SQLite, with Python's lock released throughout, instead of
    a step, a tuple and a bytes object a line). The chunk's text is made, written and counted
    on a second thread while the next chunk is read, in order, one chunk behind. A chunk
    whose text cannot be shown right from its value (:func:`_batch_text` refuses it, or a
    value holds a newline), or that holds more than :data:`WHOLE_ROWS` lines, is read again
    batch by batch in the same snapshot (:func:`_write_batches`), after the chunk before it.

    The key ranges follow the rows: the first is sized by the shard's estimate (its rows over
    its keys), each next one by the density of keys the last chunk showed, at most four times
    as wide, so that a chunk holds about :data:`CHUNK_ROWS` lines whatever the keys' spread.
    """

    def __init__(
        self,
        conn: Connection,
        pq: PartQuery,
        shape: _LineShape,
        stmt: Select,
        out: Sink,
        progress: Progress,
        batch: int,
        factory: type,
    ) -> None:
        self.conn, self.pq, self.shape, self.stmt = conn, pq, shape, stmt
        self.out, self.progress, self.batch, self.factory = out, progress, batch, factory
        self.written = 0
        # The chunk handed to the writing thread: its keys, lines, and whether it was written.
        self.held: tuple[int, int, int, Future[bool]] | None = None

    def write(self, lo: int, hi: int, estimate: int) -> int:
        """Write the lines of keys ``lo``-``hi``; returns how many."""
        dbapi = self.conn.connection.dbapi_connection
        assert dbapi is not None
        thread = ThreadPoolExecutor(1, thread_name_prefix="shard-writes")
        try:
            density = max(estimate, 1) / (hi - lo + 1)  # lines per key
            width, a = 0, lo
            while a <= hi:
                target = max(1, int(CHUNK_ROWS / density))
                width = min(target if not width else min(target, width * 4), hi - a + 1)
                b = a + width - 1
                row = self.conn.execute(self.stmt, {CHUNK_LO: a, CHUNK_HI: b}).one()
                k, joined = int(row[0]), row[1]
                if a == lo:  # as a batch-read statement gets once it started
                    dbapi.execute(f"PRAGMA cache_size = -{cache_kib(self.pq)}")
                self._settle()
                if k > WHOLE_ROWS:  # the value was cut: this range batch by batch
                    self.written += self._batches(a, b)
                elif k:
                    text = thread.submit(
                        _write_value, joined, k, self.shape, self.out, self.progress
                    )
                    self.held = (a, b, k, text)
                density = k / width if k else density / 2
                a = b + 1
            self._settle()
        finally:
            thread.shutdown(wait=True)
        return self.written

    def _settle(self) -> None:
        """Wait for the chunk in hand (raising what writing or counting it raised); read it
        again batch by batch when its value could not be written."""
        held, self.held = self.held, None
        if held is None:
            return
        a, b, k, done = held
        self.written += k if done.result() else self._batches(a, b)

    def _batches(self, a: int, b: int) -> int:
        return _write_batches(
            self.conn, self.pq, self.shape, a, b, self.out, self.progress, self.batch, self.factory
        )


class _Behind:
    """A shard's writes and progress checkpoints on a second thread, one batch behind.

    Writing a batch to the part file and a checkpoint's UPDATE and COMMIT run with Python's
    lock released (the ``write`` system call, SQLite's steps), so on their own thread they
    overlap the next batch's statement, which runs with the lock released too. At most one
    batch is in hand: :meth:`put` waits for the batch before to be written and counted, and
    raises what writing or counting it raised (``RunStopped``, a storage error), so a shard
    stops within one batch of where it did. The batches are written and counted in order,
    each write before its rows' progress, as on one thread. Used by the SQLite line path
    only: on PostgreSQL's COPY path the handoffs cost more client CPU than the checkpoints'
    round trips it would hide (docs/decisions/performance.md, "writes and checkpoints on a
    second thread").
    """

    def __init__(self, out: Sink, progress: Progress) -> None:
        self.out, self.progress = out, progress
        self.thread = ThreadPoolExecutor(1, thread_name_prefix="shard-writes")
        self.last: Future[None] | None = None

    def _write(self, data: bytes, k: int) -> None:
        self.out.write(data)
        self.progress(k)

    def put(self, data: bytes, k: int) -> None:
        """Write ``data`` (``k`` rows) once the batch before is written and counted."""
        self.drain()
        self.last = self.thread.submit(self._write, data, k)

    def drain(self) -> None:
        """Wait for the batch in hand; raises what writing or counting it raised."""
        last, self.last = self.last, None
        if last is not None:
            last.result()

    def close(self) -> None:
        """Wait for the batch in hand, if any (its error left to whoever raised first)."""
        self.thread.shutdown(wait=True)


# Wraps the value of a Col.commas column in a SQLite-built line; becomes its quotes.
QUOTE = "\x1d"
_SEP, _QUOTE, _MARK = FIELD_SEP.encode(), QUOTE.encode(), MARK.encode()


class _LineShape:
    """How a part's rows are laid out in SQLite-built lines, and how a line is read back."""

    def __init__(self, pq: PartQuery, ctx: RunContext | None = None) -> None:
        self.pq = pq
        self.ncols = len(pq.columns)
        self.fallbacks = _fallbacks(pq)
        self.commas = [i for i, c in enumerate(pq.columns) if c.commas]
        # The columns formatted in Python between the SQL-built pieces of the line.
        self.formatters = {
            i: _line_formatter(c.fmt, ctx) for i, c in enumerate(pq.columns) if line_formatted(c)
        }
        # With a comma-prone column and no commas column, every column but the integers and
        # NULLs: SQL wraps a value holding a comma in QUOTE (the test costs SQLite more than
        # rare commas cost Python); a value holding QUOTE is found by the batch's shape
        # (_wrapped_text, fields), not by SQL.
        prone = not self.commas and any(c.comma_prone for c in pq.columns)
        self.wrapped = (
            [
                i
                for i, c in enumerate(pq.columns)
                if not _never_comma(c.expr) and i not in self.formatters
            ]
            if prone
            else []
        )
        # A mark is the sign of a value written alone (Python's formatting, no comma).
        self.marks = bool(self.fallbacks or self.commas or self.wrapped)
        self.exprs, self.applied = self._layout()
        # The line of a row of the statement: its pieces and formatted values, separated.
        self.template = FIELD_SEP.join(["{}"] * len(self.exprs)) + "\n"
        self.raw_formatter = row_formatter(pq, ctx) if self.formatters and ctx else None
        # A batch of the part had a comma outside the commas columns' wrappers (titles beside
        # the name): the next ones go straight to _wrapped_fields_text, which quotes such
        # fields in place, or else to _commas_text, which writes every batch the one-pass
        # counts write, the same way.
        self.stray = False

    def _layout(self) -> tuple[list[ColumnElement[Any]], list[tuple[int, Formatter]]]:
        """The statement's columns: ``printf(...)`` of each run of the row's fields SQL writes
        (see :func:`write_lines`), and each column formatted here as stored; and (position in
        the statement's row, formatter) of those."""
        exprs: list[ColumnElement[Any]] = []
        applied: list[tuple[int, Formatter]] = []
        fmt: list[str] = []
        args: list[ColumnElement[Any]] = []

        def printed() -> None:
            if fmt:
                exprs.append(func.printf(literal(FIELD_SEP.join(fmt)), *args))
                fmt.clear()
                args.clear()

        for i, c in enumerate(self.pq.columns):
            if i in self.formatters:
                printed()
                applied.append((len(exprs), self.formatters[i]))
                exprs.append(c.expr)
            else:
                piece, arg = self._field(i, c)
                fmt.append(piece)
                args.append(arg)
        printed()
        return exprs, applied

    def _field(self, i: int, c: Col) -> tuple[str, ColumnElement[Any]]:
        """The ``printf`` format and argument of a field SQL writes."""
        if c.commas:
            text = type_coerce(c.expr, Text)
            # Marked too: a value starting with the mark, which reading back would strip.
            plain = and_(func.instr(text, ",") > 0, func.unicode(text) != ord(MARK))
            marked = literal(MARK, Text) + func.ifnull(text, "")
            return QUOTE + "%s" + QUOTE, case((plain, text), else_=marked)
        if i in self.wrapped:
            # One test a value: a value holding QUOTE or MARK is rare (hostile), and found
            # in Python (docs/decisions/performance.md, "comma-prone values wrapped by one
            # test").
            text = type_coerce(c.expr, Text)
            wrapped = literal(QUOTE, Text) + text + QUOTE
            return "%s", case((func.instr(text, ",") > 0, wrapped), else_=text)
        return "%s", c.expr

    def text_lines(self, rows: Sequence[Sequence[Any]]) -> list[str]:
        """The lines of a batch of the statement's rows with formatted columns, each ended by
        a newline: each such column formatted over the batch (NULL as empty), then each row's
        pieces and values joined (``str.format``: no Python call a row but the formatters)."""
        columns: list[Any] = list(zip(*rows, strict=True))
        for at, fn in self.applied:
            columns[at] = _column_text(fn, columns[at])
        return list(map(self.template.format, *columns))

    def format_raw(self, row: Sequence[Any]) -> Sequence[Any]:
        """A raw row of the part (re-read) as the csv path writes it."""
        if self.raw_formatter is not None:
            return self.raw_formatter(row)
        return _formatted(row, self.fallbacks) if self.fallbacks else row

    def fields(self, line: str) -> list[Any] | None:
        """The row's written values from its line; None when it does not split into them."""
        fields: list[Any] = line.split(FIELD_SEP)
        if len(fields) != self.ncols:
            return None
        for i in self.commas:
            value = fields[i]
            if len(value) < 2 or value[0] != QUOTE or value[-1] != QUOTE:
                return None
            value = value[1:-1]
            fields[i] = value[1:] if value.startswith(MARK) else value
        for i in self.wrapped:
            value = fields[i]
            if value.startswith(QUOTE):
                inner = value[1:-1]
                if len(value) < 2 or value[-1] != QUOTE or "," not in inner or QUOTE in inner:
                    return None  # not as SQL wraps: a value holding QUOTE
                fields[i] = inner
            elif QUOTE in value:
                return None
        return list(_formatted(fields, self.fallbacks)) if self.fallbacks else fields


def _column_text(fn: Formatter, values: Sequence[Any]) -> list[str]:
    """A batch's column formatted by a :func:`line_formatted` column's formatter (NULL as
    empty), each distinct value formatted once: scores repeat in a batch (a scale's points,
    a few scores), and so do times (one submission beside each of its outcomes), and a dict
    lookup costs a fraction of the formatting.

    Values that compare equal must have the same text. Stored times are text (or NULL):
    when any other value is there (a number, which could equal another of another type),
    each value is formatted. ``ruby_float`` formats ``float(value)``, so an int and the equal
    float have one text, and a NaN is found by its identity (each NaN object its own key);
    but ``0.0`` and ``-0.0`` are equal and written apart, so a batch holding a zero formats
    its zeros one by one.
    """
    texts = {v: fn(v) or "" for v in set(values)}
    if fn is ruby_float:
        if 0 not in texts:
            return list(map(texts.__getitem__, values))
        return [texts[v] if v or v is None else fn(v) or "" for v in values]
    if all(v is None or v.__class__ is str for v in texts):
        return list(map(texts.__getitem__, values))
    return [v or "" for v in map(fn, values)]


def _line_formatter(fmt: Any, ctx: RunContext | None) -> Formatter:
    """The Python formatter of a :func:`line_formatted` column."""
    if fmt == TIME:
        if ctx is None:
            raise ValueError("a time column on the line path needs the run's context")
        return time_formatter(ctx.time_zone)
    assert callable(fmt)
    return fmt


def _never_comma(expr: ColumnElement[Any]) -> bool:
    """An integer column, or a literal NULL: its text never holds a comma."""
    if isinstance(expr.type, Integer):
        return True
    inner = expr.element if isinstance(expr, Label) else expr
    return isinstance(inner, Null)


def _lines_alone(
    data: bytes, lines: Lines, breaks: bool, marks: bool, commas: bool = False
) -> list[tuple[int, int]]:
    """Where the lines of ``data`` (``lines``, each followed by a newline) holding a quote, a
    carriage return, (``marks``) ``MARK``, (``commas``) a comma or (``breaks``: the text holds
    more newlines than line ends) a newline start and end (their newline left out), in order.

    Found by searching the text, not line by line: they are few. Without ``breaks`` every
    newline ends a line, so a line's bounds are the newlines around what was found."""
    specials = [b'"', b"\r"] + ([_MARK] if marks else []) + ([b","] if commas else [])
    if breaks:
        specials.append(b"\n")
        every = lines()
        starts = _line_starts(every)
        return [
            (starts[i], starts[i + 1] - 1)
            for i, one in enumerate(every)
            if any(ch in one for ch in specials)
        ]
    found: dict[int, int] = {}
    for ch in specials:
        pos = data.find(ch)
        while pos >= 0:
            first = data.rfind(b"\n", 0, pos) + 1
            last = data.index(b"\n", pos)
            found[first] = last
            pos = data.find(ch, last)
    return sorted(found.items())


def _lines_text(lines: list[bytes], shape: _LineShape) -> bytes | None:
    """The CSV bytes of a batch of SQLite-built lines; None when counting cannot show them right.

    Lines holding a quote, a carriage return, ``MARK`` or a newline of their own, and when no
    column is a commas column a comma (a course's title now and then), are written alone
    (:func:`.csvtext.line`) and put back in place. Each other line holds exactly
    ``ncols - 1`` field separators, two ``QUOTE`` per commas column and one comma per commas
    column (whose value has at least one, or SQL marked it) when the counts over the whole
    batch say so, as a value can only add to them: then none of its values needs quoting
    but those, and the separators become commas and quotes (one ``translate`` of the batch).

    The counts are first taken together, in one pass (:func:`_plain_counts`); only a batch
    whose total is off is counted again one character at a time, to tell a value holding a
    newline (its lines are then found line by line) from one that needs ``csv.writer``.
    """
    data = b"\n".join([*lines, b""])  # every line ends with its newline
    return _batch_text(data, len(lines), lambda: lines, shape)


def _text_lines_text(texts: list[str], shape: _LineShape) -> bytes | None:
    """:func:`_lines_text` of lines built as text (:meth:`_LineShape.text_lines`)."""
    data = "".join(texts).encode("utf-8")
    return _batch_text(data, len(texts), lambda: [t[:-1].encode("utf-8") for t in texts], shape)


def _batch_text(data: bytes, k: int, lines: Lines, shape: _LineShape) -> bytes | None:
    """:func:`_lines_text` of ``data``, the batch's ``k`` lines each followed by a newline
    (``lines``: the lines themselves, asked for only when a value holds a newline)."""
    if shape.wrapped:
        return _wrapped_text(data, k, lines, shape)
    if shape.stray:
        quoted = _wrapped_fields_text(data, k, shape)
        return quoted if quoted is not None else _commas_text(data, k, lines, shape)
    m = len(shape.commas)
    if not m:
        plain = _plain_text(data, k, shape)
        if plain is not None:
            return plain
    alone = _lines_alone(data, lines, False, shape.marks, m == 0)
    if not _plain_counts(data, shape, k, alone):
        if m:  # a comma in another column, two in the commas column, a newline in a value
            return _commas_text(data, k, lines, shape)
        if data.count(b"\n") == k:  # a value holds a separator, or a comma out of place
            return None
        alone = _lines_alone(data, lines, True, shape.marks, True)
        commas = data.count(b",") - sum(data.count(b",", i, j) for i, j in alone)
        # The lines written alone split into exactly the part's fields below.
        if commas or data.count(_SEP) != k * (shape.ncols - 1):
            return None
    return _spliced(data.translate(_TO_CSV if m else _SEPS_TO_CSV), data, alone, shape)


def _plain_text(data: bytes, k: int, shape: _LineShape) -> bytes | None:
    """:func:`_lines_text` of a batch of a part with no commas column whose lines are exactly
    the part's fields and hold nothing to read back: its newlines and separators exactly
    the lines' own, no ``QUOTE`` and (with marks) no ``MARK``; else None (the counts' way).

    The separators become commas, and each field holding a comma, a quote or a carriage
    return, found by searching the text for them (they are few), is quoted with its quotes
    doubled: the bytes :func:`.csvtext.line` writes, as the counts' way writes such a line
    alone (decoded, split and written by ``csv.writer``, :func:`_plain_alone`), without
    splitting, writing and encoding the whole line again (a course's title with a comma or a
    quote is one line in seven of the courses files on ``large``). UTF-8 holds no ASCII byte
    inside a character, so the bytes are quoted as the text would be."""
    # The newlines and separators, each at least the lines' own, exactly theirs together.
    if (
        len(data) - len(data.translate(None, _NEWLINE_SEP)) != k * shape.ncols
        or _QUOTE in data
        or (shape.marks and _MARK in data)
    ):
        return None
    text = data.translate(_SEPS_TO_CSV)
    fields: dict[int, int] = {}  # where each field to quote starts: where it ends
    for ch in _FIELD_SPECIALS:
        pos = data.find(ch)
        while pos >= 0:
            first = max(data.rfind(_SEP, 0, pos), data.rfind(b"\n", 0, pos)) + 1
            last = data.find(_SEP, pos)
            end = data.find(b"\n", pos)  # the text ends with one
            if last < 0 or end < last:
                last = end
            fields[first] = last
            pos = data.find(ch, last)
    spans = sorted(fields.items())
    return _replaced(text, spans, [b'"' + data[i:j].replace(b'"', b'""') + b'"' for i, j in spans])


# What makes a field of a SQL-built line need quotes (a newline in a value is found apart).
_FIELD_SPECIALS = (b'"', b"\r", b",")


def _wrapped_fields_text(data: bytes, k: int, shape: _LineShape) -> bytes | None:
    """:func:`_lines_text` of a batch of a part with commas columns whose lines are exactly
    the part's fields and hold nothing to read back: its newlines, separators and ``QUOTE``
    exactly the lines' own (``QUOTE`` two a line for each commas column, its wrappers) and no
    ``MARK`` (so every commas value holds a comma); else None.

    Then every separator, newline and ``QUOTE`` is SQL's, so the text split on ``QUOTE``
    alternates between pieces outside the wrappers, each whole fields between separators and
    newlines, and the commas columns' values. The separators become commas and the wrappers
    quotes; a wrapped value holding a quote (a nickname) gets its quotes doubled, and each
    field outside holding a comma, a quote or a carriage return (a course's title) is quoted,
    its quotes doubled, where it is: the bytes :func:`.csvtext.line` writes for the line,
    without writing the line alone (one line in six of the Student Competency map on
    ``large`` holds such a field)."""
    # Each count at least the lines' own, so the total is theirs only when each count is.
    expected = k * (shape.ncols + 2 * len(shape.commas))
    if len(data) - len(data.translate(None, _NEWLINE_SEP_QUOTE)) != expected or _MARK in data:
        return None
    pieces = data.split(_QUOTE)  # outside and inside the wrappers, in turn
    # Where each piece starts in the text (after the pieces and wrappers before it).
    starts = list(accumulate(map((1).__add__, map(len, pieces)), initial=0))
    fields: dict[int, tuple[int, bytes]] = {}  # where each field to quote starts: end, text
    # Quotes and carriage returns are few: found in the whole text. Every wrapped value holds
    # a comma: commas are looked for in the pieces outside.
    for ch in (b'"', b"\r"):
        pos = data.find(ch)
        while pos >= 0:
            i = bisect_right(starts, pos) - 1
            if i % 2:  # a wrapped value: quoted from wrapper to wrapper
                first, last = starts[i] - 1, starts[i + 1]
                fields[first] = (last, b'"' + pieces[i].replace(b'"', b'""') + b'"')
            else:
                span = _outside_field(data, pos, starts[i], starts[i + 1] - 1, i)
                if span is None:
                    return None
                first, last = span
                fields[first] = (last, b'"' + data[first:last].replace(b'"', b'""') + b'"')
            pos = data.find(ch, last)
    for i in compress(range(0, len(pieces), 2), map(contains, pieces[0::2], repeat(b","))):
        lo, hi = starts[i], starts[i + 1] - 1  # the piece's bytes, its wrapper left out
        pos = data.find(b",", lo, hi)
        while pos >= 0:
            span = _outside_field(data, pos, lo, hi, i)
            if span is None:
                return None
            first, last = span
            fields[first] = (last, b'"' + data[first:last].replace(b'"', b'""') + b'"')
            pos = data.find(b",", last, hi)
    spans = sorted(fields.items())
    return _replaced(
        data.translate(_TO_CSV), [(i, j) for i, (j, _) in spans], [t for _, (_, t) in spans]
    )


def _outside_field(data: bytes, pos: int, lo: int, hi: int, i: int) -> tuple[int, int] | None:
    """The bounds (start, end) of the field holding ``pos`` in piece ``i`` (``data[lo:hi]``)
    outside a commas part's wrappers: the separators or newlines around it; None when one is
    missing (the field would touch a wrapper: not as SQL writes the line)."""
    first = max(data.rfind(_SEP, lo, pos), data.rfind(b"\n", lo, pos)) + 1
    ends = [at for at in (data.find(_SEP, pos, hi), data.find(b"\n", pos, hi)) if at >= 0]
    if not ends or (not first and i):
        return None
    return (first or lo, min(ends))


def _commas_text(data: bytes, k: int, lines: Lines, shape: _LineShape) -> bytes | None:
    """:func:`_lines_text` of a batch with commas columns whose one-pass counts are off.

    Every line holds its ``2 * m`` wrappers (``QUOTE``, around each commas column's value),
    so when the batch holds no other ``QUOTE``, the text split on them alternates between
    outside and inside the wrappers. A line with a comma outside them (another column's: a
    course's title; a second one in the commas column is inside) is written alone, as one
    holding a quote, a carriage return, a mark or (its lines then found line by line) a
    newline; a value holding a separator or a ``QUOTE`` refuses the batch.
    """
    breaks = len(data) - len(data.translate(None, _NEWLINE_SEP)) != k * shape.ncols
    if breaks and (data.count(b"\n") == k or data.count(_SEP) != k * (shape.ncols - 1)):
        return None
    if data.count(_QUOTE) != 2 * k * len(shape.commas):
        return None
    spans = dict(_lines_alone(data, lines, breaks, True))
    pieces = data.split(_QUOTE)  # outside and inside the wrappers, in turn
    stray = [i for i in range(0, len(pieces), 2) if b"," in pieces[i]]
    if stray:
        shape.stray = True
        # Piece i starts after the pieces before it and their i wrappers.
        starts = [i + at for i, at in enumerate(accumulate(map(len, pieces), initial=0))]
        firsts = sorted(spans)
        for i in stray:
            at = data.find(b",", starts[i], starts[i + 1])
            while at >= 0:
                known = bisect_right(firsts, at) - 1
                if known >= 0 and at < spans[firsts[known]]:
                    end = spans[firsts[known]]  # in a line written alone already
                elif breaks:
                    return None  # its line's bounds are not the newlines around it
                else:
                    end = data.index(b"\n", at)
                    spans[data.rfind(b"\n", 0, at) + 1] = end
                at = data.find(b",", end, starts[i + 1])
    return _spliced(data.translate(_TO_CSV), data, sorted(spans.items()), shape)


def _wrapped_text(data: bytes, k: int, lines: Lines, shape: _LineShape) -> bytes | None:
    """:func:`_lines_text` of a part with a comma-prone column (``shape.wrapped``).

    SQL wrapped in ``QUOTE`` every text value holding a comma (a sortable name, a course's
    title); a line holding a quote, a carriage return, ``MARK`` or a newline is written alone.
    The batch is written as is when its newlines and separators are exactly the lines' own
    and, outside the lines written alone, the wrappers are as SQL writes them
    (:func:`_wrappers_whole`): then the wrappers become quotes and the separators commas.
    """
    breaks = len(data) - len(data.translate(None, _NEWLINE_SEP)) != k * shape.ncols
    # A value holds a newline (its line goes alone), or a separator (refused).
    if breaks and (data.count(b"\n") == k or data.count(_SEP) != k * (shape.ncols - 1)):
        return None
    alone = _lines_alone(data, lines, breaks, True)
    kept = data
    if alone:  # the text between the lines written alone
        view = memoryview(data)
        bounds = [0, *(at for span in alone for at in span), len(data)]
        kept = b"".join(view[a:b] for a, b in zip(bounds[0::2], bounds[1::2], strict=True))
    pieces = kept.split(_QUOTE)  # outside and inside the wrappers, in turn
    if not _wrappers_whole(pieces):
        return None
    return _spliced(data.translate(_TO_CSV), data, alone, shape)


def _wrappers_whole(pieces: list[bytes]) -> bool:
    """Whether whole lines split on ``QUOTE`` (outside and inside the wrappers, in turn) are
    as SQL wraps a comma-prone part's values: no comma outside the wrappers, and each inside
    piece a whole field (right after a field's start, right before its end, no separator or
    newline in it) holding a comma.

    Then every value is read back exactly, though SQL tests values for a comma alone: a
    wrapped field is ``QUOTE`` + a piece holding a comma and no ``QUOTE``, which SQL writes
    for that piece and for nothing else (a value of that very form holds a comma, so SQL
    wraps it again: ``QUOTE QUOTE`` ..., an empty piece); any other field lies outside, with
    neither a comma nor ``QUOTE``, so SQL wrote it as it is. A value holding ``QUOTE`` leaves
    a piece that is not such a field, and the batch is refused.
    """
    if len(pieces) % 2 == 0:
        return False
    outside, inside = pieces[0::2], pieces[1::2]
    if b"," in b"".join(outside):
        return False
    if not inside:
        return True
    within = _QUOTE.join(inside)
    if _SEP in within or b"\n" in within:
        return False
    # A comma in each piece: their commas and wrappers alone, no piece left empty.
    commas = within.translate(None, _NOT_COMMA_QUOTE)
    if not commas or commas[:1] == _QUOTE or commas[-1:] == _QUOTE or _QUOTE * 2 in commas:
        return False
    # The byte before each opening and after each closing: the text's start (the first
    # piece empty), a separator or a newline.
    if outside[0] and outside[0][-1:] not in _FIELD_BOUNDS:
        return False
    bounds = set(map(_FIRST, outside[1:]))
    bounds.update(map(_LAST, outside[1:-1]))
    return bounds <= _FIELD_BOUNDS


def _spliced(
    text: bytes, data: bytes, alone: list[tuple[int, int]], shape: _LineShape
) -> bytes | None:
    """``text`` (``data`` translated) with the lines written alone replacing theirs: all
    together (:func:`_plain_alone`) or, with a commas column, a newline or a mark in them,
    line by line."""
    if not alone:
        return text
    written = _plain_alone(data, alone, shape)
    if written is None:
        rows = []
        for first, last in alone:
            fields = shape.fields(data[first:last].decode("utf-8"))
            if fields is None:
                return None
            rows.append(fields)
        written = []
        for text_line in csv_lines(rows):
            encoded = text_line[:-1].encode("utf-8")
            if _SEP in encoded or _QUOTE in encoded:
                return None
            written.append(encoded)
    elif not written:
        return None
    return _replaced(text, alone, written)


def _replaced(text: bytes, alone: list[tuple[int, int]], written: list[bytes]) -> bytes:
    """``text`` with the lines at ``alone`` (start, end) replaced by ``written``, in order
    (slices of one view)."""
    view = memoryview(text)
    pieces: list[bytes | memoryview] = []
    at = 0
    for (first, last), one in zip(alone, written, strict=True):
        pieces += (view[at:first], one)
        at = last
    pieces.append(view[at:])
    return b"".join(pieces)


def _plain_alone(
    data: bytes, alone: list[tuple[int, int]], shape: _LineShape
) -> list[bytes] | None:
    """The CSV lines of the lines written alone, all at once, when the part has no commas
    column and they hold no newline or ``MARK``: decoded together, split on the separator,
    the comma-prone part's wrapped values unwrapped (as :meth:`_LineShape.fields` does),
    written by ``csv.writer`` in one call (:class:`.csvtext.BatchWriter`) and encoded
    together: the same writer and fields as line by line, in a few C calls instead of a
    dozen Python steps a line (a course's title with a comma or a quote puts one line in
    seven of the courses files on ``large`` here, and a title with a quote one in twelve of
    zero activity's lines). None when this way does not apply; an empty list when a line
    does not split into the part's fields, a wrapped value is not whole, or its CSV holds a
    separator or ``QUOTE`` (the batch is then refused, as line by line)."""
    if shape.commas:
        return None
    segments = [data[first:last] for first, last in alone]
    joined = b"\n".join(segments)
    if joined.count(b"\n") != len(segments) - 1 or (shape.marks and _MARK in joined):
        return None
    rows = [line.split(FIELD_SEP) for line in joined.decode("utf-8").split("\n")]
    ncols = shape.ncols
    if any(len(row) != ncols for row in rows):
        return []
    if shape.wrapped and not _unwrapped(rows, shape.wrapped):
        return []
    text = BatchWriter().text(rows).encode("utf-8")
    if _SEP in text or _QUOTE in text:
        return []
    return text.split(b"\n")[:-1]


def _unwrapped(rows: list[list[str]], wrapped: list[int]) -> bool:
    """Each row's wrapped values (``QUOTE`` + value + ``QUOTE``) unwrapped in place, as
    :meth:`_LineShape.fields` does; False when one is not as SQL wraps (whole, a comma in
    it; a ``QUOTE`` left in a value shows in the CSV, which the caller refuses)."""
    for row in rows:
        for i in wrapped:
            value = row[i]
            if value.startswith(QUOTE):
                if len(value) < 2 or value[-1] != QUOTE or "," not in value:
                    return False
                row[i] = value[1:-1]
    return True


def _plain_counts(data: bytes, shape: _LineShape, k: int, alone: list[tuple[int, int]]) -> bool:
    """Whether the batch's newlines, separators, ``QUOTE`` (with commas columns) and commas
    outside the lines written alone are exactly what its ``k`` lines put there.

    Counted as one total, by what deleting them all takes off the text. Each count is at
    least what the lines put there (a value can only add to it), so the total is right only
    when each count is. That holds for the commas too when a value holds a newline, and the
    lines written alone (``alone``, found between newlines) are then only parts of lines:
    each lies within one line, so the lines they leave untouched, each with at least one
    comma per commas column, are at least ``k - len(alone)``.
    """
    m = len(shape.commas)
    deleted = _COUNTED if m else _COUNTED_NO_QUOTE
    total = len(data) - len(data.translate(None, deleted))
    inside = sum(data.count(b",", i, j) for i, j in alone)
    expected = k * shape.ncols + 2 * k * m + (k - len(alone)) * m + inside
    return total == expected


# The separators of a batch whose counts are right, as CSV: with and without commas columns.
_TO_CSV = bytes.maketrans(_SEP + _QUOTE, b',"')
_SEPS_TO_CSV = bytes.maketrans(_SEP, b",")
# What _plain_counts counts: newlines, commas, separators, and QUOTE when it wraps a column.
_COUNTED = b"\n," + _SEP + _QUOTE
_COUNTED_NO_QUOTE = b"\n," + _SEP
_NEWLINE_SEP = b"\n" + _SEP
_NEWLINE_SEP_QUOTE = _NEWLINE_SEP + _QUOTE
# What may come right before a field's first byte or after its last: a separator, a newline.
_FIELD_BOUNDS = {_SEP, b"\n"}
_FIRST, _LAST = itemgetter(slice(None, 1)), itemgetter(slice(-1, None))
# Every byte but the comma and QUOTE.
_NOT_COMMA_QUOTE = bytes(set(range(256)) - set(b"," + _QUOTE))


def _line_starts(lines: list[bytes]) -> list[int]:
    """Where each line starts in the batch's text (each followed by a newline), and its end."""
    return [0, *accumulate(map((1).__add__, map(len, lines)))]


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
