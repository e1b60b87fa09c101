"""SQL forms of the Python column formatters, exact for the common values, with a way out.

A column with a Python formatter keeps its part off the fast paths (SQLite's SQL-built lines,
PostgreSQL's COPY): every row would come back to Python as a tuple to be formatted. For the
formatters listed in :data:`SQL_FORMS` the database computes the written text itself when
the stored value has a shape whose result SQL can compute exactly (nearly every row), and
otherwise returns :data:`MARK` followed by the stored value: the writer then formats that
one value with the Python formatter (``runs.query.row_formatter``, ``runs.write``). The
written bytes are the Python formatter's for every value; ``tests/reports/test_sqlformat.py``
compares both on many values on both databases.

- ``first_name``/``last_name`` (:func:`formatting.name_parts`): computed in SQL for a sortable
  name of the shape ``Surname, Given`` with nothing for Python to strip (see the two
  functions; given names of several words with a double space, or with a character that
  Python's case-insensitive match could fold onto a suffix's letters, such as the long s, go
  to Python too). Other names (no comma, two commas, spaces around the parts, tabs...) go to
  Python.
- ``TIME`` (:func:`formatting.time_formatter`): a stored timestamp between
  :data:`TIME_WINDOW`'s bounds is written from its UTC text shifted by the zone's offset at
  that instant; the offsets come from Python's own zone (``zoneinfo``), as a tree of CASE
  arms over the transitions, so both always agree. Other values go to Python; on SQLite so
  does any text that is not a valid ``YYYY-MM-DD HH:MM:SS[.ffffff]`` (SQLite would normalize
  ``2024-02-30``, where Python refuses it).
- ``ruby_float`` (PostgreSQL): a double of absolute value 1e-4 to 1e15 (or zero) is its
  shortest text, with ``.0`` after a whole number; exponents, NaN and infinities go to Python.
- ``TimeOr`` (``basics.time_or``): ``TIME``'s form, and its text for NULL.
- ``megabytes``: on PostgreSQL exact for every byte count (integer arithmetic and
  ``to_char``); on SQLite for 0 to :data:`MB_SQLITE_MAX` bytes (``printf``), others go to
  Python.
- ``token_hint``: the text after its first ``~``; a hint holding MARK goes to Python.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    TIMESTAMP,
    ColumnElement,
    Float,
    Integer,
    Numeric,
    Select,
    Text,
    and_,
    case,
    cast,
    func,
    literal,
    literal_column,
    or_,
    type_coerce,
)
from sqlalchemy.sql import visitors
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.selectable import ScalarSelect

from reportcard.db import sqlnames
from reportcard.db.sqlnames import MARK, find
from reportcard.db.sqlnames import marked as _marked
from reportcard.reports.basics import TimeOr, megabytes, token_hint
from reportcard.reports.catalog import TIME, RunContext
from reportcard.reports.formatting import first_name, is_utc, last_name, zone
from reportcard.reports.learning_common import ruby_float

# The mark and the names' forms live below the reports (db.sqlnames): the CD2 import builds
# the names' forms without loading the reports' modules.


def _is_pg(ctx: RunContext) -> bool:
    return ctx.dialect == "postgresql"


def _find(ctx: RunContext, text: ColumnElement[Any], sub: str) -> ColumnElement[Any]:
    """1-based position of ``sub`` in ``text``, 0 when absent."""
    return find(ctx.dialect, text, sub)


def sql_last_name(expr: ColumnElement[Any], ctx: RunContext) -> ColumnElement[Any]:
    """``last_name(sortable_name)`` in SQL, or MARK + the name
    (:func:`db.sqlnames.sql_last_name`)."""
    return sqlnames.sql_last_name(expr, ctx.dialect)


def sql_first_name(expr: ColumnElement[Any], ctx: RunContext) -> ColumnElement[Any]:
    """``first_name(sortable_name)`` in SQL, or MARK + the name
    (:func:`db.sqlnames.sql_first_name`)."""
    return sqlnames.sql_first_name(expr, ctx.dialect)


# ---------------------------------------------------------------- times

# Times from the first to the second are written by SQL; others by Python.
TIME_WINDOW = (datetime(1970, 1, 2), datetime(2099, 12, 31))
_DAY = 86_400


@lru_cache(maxsize=16)
def offset_segments(tz_name: str) -> tuple[tuple[datetime, int, str], ...]:
    """(UTC start, offset in seconds, offset text) of each stretch of one offset in the window.

    The offset text is what ``isoformat`` writes after the time (``-07:00``). Offsets are read
    from Python's zone once a day and a change is bisected to the second; a zone changing
    twice within one day and back to the first offset would be missed (none does).
    """
    tz = zone(tz_name)

    def offset(ts: int) -> int:  # at UTC ts, seconds since the epoch
        delta = datetime.fromtimestamp(ts, tz).utcoffset()
        assert delta is not None
        return int(delta.total_seconds())

    lo, hi = (int(t.replace(tzinfo=UTC).timestamp()) for t in TIME_WINDOW)
    starts = [(lo, offset(lo))]
    for t in range(lo, hi, _DAY):
        nxt = min(t + _DAY, hi)
        current = starts[-1][1]
        while offset(nxt) != current:  # bisect to the first second of the next offset
            a, b = t, nxt
            while b - a > 1:
                mid = (a + b) // 2
                if offset(mid) == current:
                    a = mid
                else:
                    b = mid
            starts.append((b, offset(b)))
            t, current = b, starts[-1][1]

    def when(ts: int) -> datetime:
        return datetime.fromtimestamp(ts, UTC).replace(tzinfo=None)

    def text(ts: int) -> str:
        return datetime.fromtimestamp(ts, tz).isoformat(timespec="seconds")[19:]

    segments = [(when(start), off, text(start)) for start, off in starts]
    return tuple(segments)


def _ts_text(ctx: RunContext, t: datetime) -> ColumnElement[Any]:
    text = t.strftime("%Y-%m-%d %H:%M:%S")
    return cast(literal(text), TIMESTAMP()) if _is_pg(ctx) else literal(text)


def _shifted(ctx: RunContext, v: ColumnElement[Any], seconds: int, suffix: str) -> Any:
    """The local time text of UTC ``v`` shifted by ``seconds``, then ``suffix``."""
    if _is_pg(ctx):
        t = v if not seconds else v + func.make_interval(0, 0, 0, 0, 0, 0, seconds)
        body = func.to_char(t, 'YYYY-MM-DD"T"HH24:MI:SS')
    else:
        args = [func.substr(v, 1, 19)] + ([f"{seconds:+d} seconds"] if seconds else [])
        body = func.strftime("%Y-%m-%dT%H:%M:%S", *args)
    return body + literal(suffix)


def sql_time(expr: ColumnElement[Any], ctx: RunContext) -> ColumnElement[Any]:
    """The TIME formatter in SQL: the stored UTC time in the run's zone, or MARK + the value."""
    if is_utc(ctx.time_zone):
        segments: tuple[tuple[datetime, int, str], ...] = ((TIME_WINDOW[0], 0, "Z"),)
    else:
        segments = offset_segments(ctx.time_zone)
    v = expr

    def tree(segs: tuple[tuple[datetime, int, str], ...]) -> Any:
        if len(segs) == 1:
            return _shifted(ctx, v, segs[0][1], segs[0][2])
        mid = len(segs) // 2
        return case((v < _ts_text(ctx, segs[mid][0]), tree(segs[:mid])), else_=tree(segs[mid:]))

    lo, hi = TIME_WINDOW
    inside = [v >= _ts_text(ctx, lo), v < _ts_text(ctx, hi)]
    if _is_pg(ctx):
        raw: ColumnElement[Any] = case(
            (
                and_(v >= _ts_text(ctx, datetime(1, 1, 1)), func.isfinite(v)),
                func.to_char(v, 'YYYY-MM-DD"T"HH24:MI:SS.US'),
            ),
            else_=cast(v, Text),
        )
    else:
        head = func.substr(v, 1, 19)
        inside += [
            func.datetime(head, "+0 seconds") == head,  # a valid date and time, as written
            or_(
                func.length(v) == 19,
                and_(
                    func.length(v) == 26,
                    func.substr(v, 20).op("GLOB", is_comparison=True)(
                        literal(".[0-9][0-9][0-9][0-9][0-9][0-9]")
                    ),
                ),
            ),
        ]
        raw = v
    return type_coerce(case((and_(*inside), tree(segments)), else_=_marked(raw)), Text)


# ---------------------------------------------------------------- numbers

# Floats from the first (inclusive) to the second (exclusive) in absolute value, and zero, are
# written by SQL: there PostgreSQL's shortest text is plain decimal, as Python's repr.
FLOAT_WINDOW = (1e-4, 1e15)


def _has_subquery(expr: ColumnElement[Any]) -> bool:
    return any(isinstance(e, ScalarSelect) for e in visitors.iterate(expr))


def sql_ruby_float(expr: ColumnElement[Any], ctx: RunContext) -> ColumnElement[Any]:
    """``ruby_float`` in SQL (PostgreSQL), or MARK + the value's text.

    PostgreSQL writes a double's shortest round-trip digits (``extra_float_digits`` 1, the
    default and reportcard's sessions' setting), as Python's ``repr`` does, and in plain
    decimal when the decimal exponent is -4 to 14 (Python: -4 to 15): there the text is
    Ruby's, with ``.0`` after a whole number. Other values (exponents, NaN, infinities) go to
    Python. An expression holding a subquery is referenced once, through regular expressions
    (PostgreSQL would run the subquery for each reference of the CASE form).
    """
    v = cast(expr, Float(precision=53))
    t = cast(v, Text)
    if _has_subquery(expr):
        whole = func.regexp_replace(t, "^(-?[0-9]+)$", "\\1.0")
        return type_coerce(func.regexp_replace(whole, "^(.*[eNI].*)$", MARK + "\\1"), Text)
    lo, hi = (literal(x, Float(precision=53)) for x in FLOAT_WINDOW)
    plain = or_(v == 0, and_(func.abs(v) >= lo, func.abs(v) < hi))
    written = case((v == func.trunc(v), t + literal(".0")), else_=t)
    return type_coerce(case((plain, written), else_=_marked(t)), Text)


# Digits enough for any sum of bigints PostgreSQL holds.
_MB_TEMPLATE = "FM" + "9" * 30 + "0.09"


# A byte count up to this is written by SQLite's form (its hundredths of a MB are far below
# 2**53, where Python's repr of them over 100 is the plain two-decimal text).
MB_SQLITE_MAX = 10**15


def sql_megabytes(expr: ColumnElement[Any], ctx: RunContext) -> ColumnElement[Any]:
    """``megabytes`` in SQL: whole hundredths of a MB, rounded half up, as text.

    On PostgreSQL exact for every value: the hundredths are integer arithmetic on the
    (non-negative) byte count, and ``to_char`` writes them with one decimal at least and a
    second only when not zero, as Python's ``repr`` of the hundredths over 100 does. The byte
    count is referenced once (it is a subquery in the course storage report). On SQLite see
    :func:`_sqlite_megabytes`.
    """
    if not _is_pg(ctx):
        return _sqlite_megabytes(expr)
    total = cast(func.coalesce(expr, 0), Numeric)  # no bigint overflow, as Python's int
    hundredths = func.div(total * 200 + 1_048_576, 2_097_152)
    return type_coerce(func.to_char(hundredths / 100, _MB_TEMPLATE), Text)


def _sqlite_megabytes(expr: ColumnElement[Any]) -> ColumnElement[Any]:
    """``megabytes`` on SQLite: a count of 0 to :data:`MB_SQLITE_MAX` bytes (an integer, or a
    real truncated as Python's ``int``) in integer arithmetic, written by ``printf``; any
    other value goes to Python, as MARK + its text (``quote``: a real's round-trip digits).

    A scalar subquery (the course storage sums) is formatted inside it, where its aggregate is
    computed once however often the text refers to it: SQLite computes equal aggregates once,
    but two bound parameters are never equal, so the integers bound in the aggregate's
    expression (``CASE ... THEN 512``) are written in the SQL instead (ten sums a row cost
    the course storage statement 0.5 s on ``large``, against 0.07 s).
    """
    if isinstance(expr, ScalarSelect) and isinstance(expr.element, Select):
        inner = expr.element
        (selected,) = inner.selected_columns
        opts: dict[str, Any] = {}
        total = visitors.replacement_traverse(selected, opts, _int_literal)
        return type_coerce(
            inner.with_only_columns(_sqlite_megabytes(total)).scalar_subquery(), Text
        )
    v = func.coalesce(expr, 0)

    def div(a: ColumnElement[Any], b: int) -> ColumnElement[Any]:  # SQLite's integer division
        return a.op("/", precedence=8)(b)  # as * and %: a sum left of it is grouped

    h = div(cast(v, Integer) * 200 + 1_048_576, 2_097_152)
    written = case(
        (h % 10 == 0, func.printf("%d.%d", div(h, 100), div(h % 100, 10))),
        else_=func.printf("%d.%02d", div(h, 100), h % 100),
    )
    inside = and_(v >= 0, v <= MB_SQLITE_MAX, func.typeof(v).in_(["integer", "real"]))
    return type_coerce(case((inside, written), else_=_marked(func.quote(v))), Text)


def _int_literal(element: Any, **kw: Any) -> Any:
    """An integer bound parameter as a literal in the SQL text; None leaves ``element`` be."""
    if isinstance(element, BindParameter) and type(element.value) is int:
        return literal_column(str(element.value), element.type)
    return None


def sql_token_hint(expr: ColumnElement[Any], ctx: RunContext) -> ColumnElement[Any]:
    """``token_hint`` in SQL: the text after the first ``~``, else all of it (NULL: NULL); a
    hint holding MARK goes to Python."""
    at = _find(ctx, expr, "~")
    return type_coerce(
        case(
            (_find(ctx, expr, MARK) > 0, _marked(expr)),
            (at > 0, func.substr(expr, at + 1)),
            else_=expr,
        ),
        Text,
    )


def sql_time_or(missing: str) -> Callable[[ColumnElement[Any], RunContext], ColumnElement[Any]]:
    """:class:`TimeOr` in SQL: ``missing`` for NULL, else the ``TIME`` form."""

    def build(expr: ColumnElement[Any], ctx: RunContext) -> ColumnElement[Any]:
        return type_coerce(
            case((expr.is_(None), literal(missing, Text)), else_=sql_time(expr, ctx)), Text
        )

    return build


# The formatters with a SQL form: formatter (or marker) -> builder of the column's expression.
SQL_FORMS: dict[Any, Callable[[ColumnElement[Any], RunContext], ColumnElement[Any]]] = {
    first_name: sql_first_name,
    last_name: sql_last_name,
    TIME: sql_time,
    ruby_float: sql_ruby_float,
    megabytes: sql_megabytes,
    token_hint: sql_token_hint,
}
# Where a form is used: PostgreSQL, where it lets the part take COPY; times on SQLite too,
# where a part's forms are used only when they put it on the line path
# (``runs.query.sql_formatted``; docs/decisions/performance.md). The users files read the
# names stored (``users.first_name``/``last_name``): their forms now serve the CD2 import,
# which computes the stored names in SQL (``lms.cd2.apply``); exact on both databases
# (tests/reports/test_sqlformat.py).
DIALECTS: dict[Any, frozenset[str]] = {
    first_name: frozenset({"postgresql"}),
    last_name: frozenset({"postgresql"}),
    TIME: frozenset({"postgresql", "sqlite"}),
    # PostgreSQL only: its form uses its float text (SQLite prints 15 digits).
    ruby_float: frozenset({"postgresql"}),
    megabytes: frozenset({"postgresql", "sqlite"}),
    token_hint: frozenset({"postgresql", "sqlite"}),
}


def sql_form(fmt: Any, dialect: str) -> Callable[[ColumnElement[Any], RunContext], Any] | None:
    """The SQL form of a column formatter used on ``dialect``, or None."""
    if isinstance(fmt, TimeOr):  # TIME's dialects
        return sql_time_or(fmt.missing) if dialect in DIALECTS[TIME] else None
    try:
        build = SQL_FORMS.get(fmt)
    except TypeError:  # an unhashable formatter has no SQL form
        return None
    return build if build is not None and dialect in DIALECTS[fmt] else None
