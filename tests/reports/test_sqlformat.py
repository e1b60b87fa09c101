"""The SQL forms of the formatters write what the Python formatters write, for every value.

Each value goes through the SQL expression (in the lane's database) and, when SQL leaves it to
Python (``MARK`` + the stored value), through the Python formatter; the result must equal the
Python formatter's on the stored value. Names are generated from tricky pieces (suffixes in
every case, Roman numerals, folding characters, every kind of whitespace, extra commas);
times cover every offset change of DST zones in the window, its edges and values outside it.
"""

from __future__ import annotations

import math
import random
import struct
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    Float,
    Integer,
    MetaData,
    Table,
    Text,
    func,
    literal,
    select,
    type_coerce,
)
from sqlalchemy.types import TIMESTAMP

from reportcard.reports.basics import megabytes, time_or, token_hint
from reportcard.reports.catalog import RunContext
from reportcard.reports.formatting import first_name, last_name, time_formatter
from reportcard.reports.learning_common import ruby_float
from reportcard.reports.sqlformat import (
    FLOAT_WINDOW,
    MARK,
    TIME_WINDOW,
    offset_segments,
    sql_first_name,
    sql_form,
    sql_last_name,
    sql_megabytes,
    sql_ruby_float,
    sql_time,
    sql_token_hint,
)
from tests.databases import lane

PIECES = [
    "Smith", "de la Cruz", "王", "Nguyễn", "Văn", "O'Brien", 'Katherine "Kate"', "Mary", "Ann",
    "Jr", "jr.", "JR", "Jr..", "Sr.", "sr", "III", "iv", "Iv.", "vi", "i..", "ix", ".", "esq",
    "ESQ.", "Esquire", "senior", "Junior.", "Seniors", "ſr", "ıv", "İI", "Kr", "x", "ß", "ﬀ",
]  # fmt: skip
SEPARATORS = [
    ", ", ",", " , ", " ", "  ", "\t", "\u00a0", "\u2003", "\u3000", ",,", " ,", "\n", "\x1e",
    "\x1f", "\x85", "",
]  # fmt: skip
NAMES = [
    None, "", ",", " ", ", ", " ,", "Smith, John", "Smith,John", " Smith ,  John ", "Ng, James Jr.",
    "Ng, Jr.", "Ng, Jr. III", "Ng, James .", "Ng, A Seniors", "John Smith", "Smith, John, Jr.",
    "Smith, John\tJr", "Smith, John  Jr", "Smith\t, John", "\tSmith, John", "Smith, John\u00a0",
    "Smith, Mary Ann Jr", "Smith, Mary  Ann", "Smith, Mary Ann\u2003Jr", ", John", "Smith,",
    "Smith, ", "S, J", "S,J", "Cher", "Ng, James ſr", "Ng, James ıv", "Ng, Mary \u212ar",
]  # fmt: skip


def _names() -> list[str | None]:
    rng = random.Random(19)
    out: list[str | None] = list(NAMES)
    for _ in range(4000):
        n = rng.randint(1, 5)
        parts = [rng.choice(PIECES) for _ in range(n)]
        text = parts[0]
        for p in parts[1:]:
            text += (", " if rng.random() < 0.5 else rng.choice(SEPARATORS)) + p
        if rng.random() < 0.1:
            text = rng.choice(SEPARATORS) + text
        if rng.random() < 0.1:
            text += rng.choice(SEPARATORS)
        out.append(text)
    return out


def _ctx(dialect: str, time_zone: str = "UTC") -> RunContext:
    return RunContext(
        report_id=1,
        report_type="t",
        account_id=1,
        root_account_id=1,
        account_name="A",
        time_zone=time_zone,
        params={},
        is_root=True,
        dialect=dialect,
    )


def _through(sql_value: Any, py: Callable[[Any], Any]) -> Any:
    """What the writers make of a value the SQL form returned."""
    if isinstance(sql_value, str) and sql_value.startswith(MARK):
        return py(sql_value[1:])
    return sql_value


def _outcome(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except (ValueError, TypeError) as exc:
        return type(exc)


def test_names_in_sql_are_the_python_names(engine: Engine) -> None:
    dialect = engine.dialect.name
    ctx = _ctx(dialect)
    md = MetaData()
    t = Table("name_cases", md, Column("id", Integer, primary_key=True), Column("s", Text))
    names = _names()
    with engine.begin() as conn:
        md.create_all(conn)
        conn.execute(t.insert(), [{"id": i, "s": s} for i, s in enumerate(names)])
        rows = conn.execute(
            select(t.c.s, sql_first_name(t.c.s, ctx), sql_last_name(t.c.s, ctx)).order_by(t.c.id)
        ).all()
    in_sql = 0
    for s, first, last in rows:
        assert _through(first, first_name) == first_name(s), repr(s)
        assert _through(last, last_name) == last_name(s), repr(s)
        in_sql += not (first or "").startswith(MARK)
    assert [r[0] for r in rows] == names
    # Not vacuous: SQL wrote many of them itself, suffix cases included.
    assert in_sql > len(names) // 10
    common = [
        ("Smith, John", "John"),
        ("Ng, James Jr.", "James"),
        ("Ng, A b III", "A b"),
        ("Ng, Mary Ann", "Mary Ann"),
    ]
    with engine.connect() as conn:
        for s, expected in common:
            got = conn.execute(select(sql_first_name(literal(s, Text), ctx))).scalar()
            assert got == expected, s


def _times() -> list[datetime]:
    rng = random.Random(7)
    lo, hi = TIME_WINDOW
    out = [
        lo - timedelta(microseconds=1),
        lo,
        hi - timedelta(microseconds=1),
        hi,
        datetime(1, 1, 1),
        datetime(1, 1, 1, 12),
        datetime(9999, 12, 31, 23, 59, 59, 999999),
        datetime(1969, 12, 31, 23, 59, 59),
        datetime(2024, 2, 29, 23, 59, 59, 999999),
    ]
    for zone_name in ("America/New_York", "Australia/Lord_Howe", "Africa/Monrovia"):
        for start, _, _ in offset_segments(zone_name)[1:40]:
            out += [start - timedelta(seconds=1), start, start + timedelta(microseconds=999999)]
    base = datetime(1900, 1, 1)
    for _ in range(600):
        micro = rng.choice([0, 0, 1, 500000, 999999])
        seconds = rng.randrange(0, 250 * 365 * 86400)
        out.append(base + timedelta(seconds=seconds, microseconds=micro))
    return out


ZONES = [
    "UTC",
    "Etc/UTC",
    "America/Phoenix",
    "America/New_York",
    "Mountain Time (US & Canada)",
    "Europe/London",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Africa/Monrovia",
    "No/Such_Zone",
]


@pytest.mark.parametrize("zone_name", ZONES)
def test_times_in_sql_are_the_python_times(engine: Engine, zone_name: str) -> None:
    dialect = engine.dialect.name
    ctx = _ctx(dialect, zone_name)
    py = time_formatter(zone_name)
    md = MetaData()
    col_type: Any = TIMESTAMP() if dialect == "postgresql" else Text()
    t = Table("time_cases", md, Column("id", Integer, primary_key=True), Column("v", col_type))
    values: list[Any] = list(_times())
    if dialect == "sqlite":  # as SQLAlchemy stores them, and other texts SQLite may hold
        values = [v.strftime("%Y-%m-%d %H:%M:%S.%f") for v in values]
        values += [
            "2024-01-15 08:00:00",
            "2024-01-15T08:00:00",
            "2024-01-15 08:00:00.5",
            "2024-01-15 08:00:00+02:00",
            "2024-02-30 00:00:00",
            "2024-01-15 24:00:00",
            "2024-01-15 08:00:60",
            "garbage",
            "",
            None,
        ]
    else:
        values.append(None)
    with engine.begin() as conn:
        md.create_all(conn)
        conn.execute(t.insert(), [{"id": i, "v": v} for i, v in enumerate(values)])
        # Typed as the tables' timestamps are (SQLite holds the text either way).
        stored = type_coerce(t.c.v, DateTime())
        rows = conn.execute(select(t.c.v, sql_time(stored, ctx)).order_by(t.c.id)).all()
    in_sql = 0
    for stored, got in rows:
        expected = _outcome(lambda: py(stored))  # noqa: B023
        assert _outcome(lambda: _through(got, py)) == expected, (stored, got)  # noqa: B023
        in_sql += got is not None and not got.startswith(MARK)
    assert in_sql > len(values) // 2


def _floats() -> list[float | None]:
    rng = random.Random(11)
    out: list[float | None] = [None, 0.0, -0.0, 88.0, 37.5, -12.25, 0.1 + 0.2, 1 / 3, 2 / 3]
    out += [float("nan"), float("inf"), float("-inf"), 5e-324, 1.7976931348623157e308]
    for edge in (*FLOAT_WINDOW, 1e16):
        for k in range(-3, 4):
            x = edge
            for _ in range(abs(k)):
                x = math.nextafter(x, math.inf if k > 0 else -math.inf)
            out += [x, -x]
    for _ in range(3000):
        kind = rng.random()
        if kind < 0.3:  # scores as they are stored: few decimals
            x = round(rng.uniform(0, 120), rng.choice([0, 1, 2, 3]))
        elif kind < 0.6:  # any bits of a double in a wide range of exponents
            x = rng.uniform(1, 10) * 10.0 ** rng.randint(-8, 18)
        else:
            x = struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0]
        out.append(-x if rng.random() < 0.2 else x)
    return out


@pytest.mark.skipif(lane() != "postgresql", reason="the number forms are PostgreSQL's")
def test_floats_in_sql_are_the_ruby_floats(engine: Engine) -> None:
    ctx = _ctx("postgresql")
    md = MetaData()
    t = Table("float_cases", md, Column("id", Integer, primary_key=True), Column("v", Float(53)))
    values = _floats()
    with engine.begin() as conn:
        md.create_all(conn)
        conn.execute(t.insert(), [{"id": i, "v": v} for i, v in enumerate(values)])
        # The plain form, and the form for an expression holding a subquery.
        inner = t.alias("inner_case")
        sub = select(inner.c.v).where(inner.c.id == t.c.id).scalar_subquery()
        rows = conn.execute(
            select(t.c.v, sql_ruby_float(t.c.v, ctx), sql_ruby_float(sub, ctx)).order_by(t.c.id)
        ).all()
    in_sql = 0
    for stored, got, got_once in rows:
        expected = ruby_float(stored)
        assert _through(got, ruby_float) == expected, (stored, got)
        assert _through(got_once, ruby_float) == expected, (stored, got_once)
        in_sql += got is not None and not got.startswith(MARK)
    assert in_sql > len(values) // 3
    assert len({r[0] is not None and r[1] for r in rows}) > 2


def test_megabytes_in_sql_are_the_python_megabytes(engine: Engine) -> None:
    ctx = _ctx(lane())
    rng = random.Random(3)
    md = MetaData()
    t = Table("mb_cases", md, Column("id", Integer, primary_key=True), Column("b", BigInteger))
    mb = 1_048_576
    values: list[float | None] = [None, 0, 1, 511, 512, 5242, 5243, 2**63 - 1]
    values += [10**15 - 1, 10**15, 10**15 + 1, 2**53 + 1]
    values += [k * mb // 200 + d for k in range(0, 400, 7) for d in (-1, 0, 1)]
    values += [rng.randrange(0, 2 ** rng.randint(1, 62)) for _ in range(2000)]
    if lane() == "sqlite":  # negatives (no sum of sizes is), and reals an INTEGER column keeps
        values += [-1, -mb, 1.5, 5242.9999, 1e15, 1e15 + 0.5, 1e20, 2.5e18, -0.5]
    with engine.begin() as conn:
        md.create_all(conn)
        conn.execute(t.insert(), [{"id": i, "b": v} for i, v in enumerate(values)])
        # As the report sums them: numeric.
        inner = t.alias("inner_case")
        total = select(func.sum(inner.c.b)).where(inner.c.id == t.c.id)
        rows = conn.execute(
            select(
                t.c.b, sql_megabytes(t.c.b, ctx), sql_megabytes(total.scalar_subquery(), ctx)
            ).order_by(t.c.id)
        ).all()
    in_sql = 0
    for stored, got, got_sum in rows:
        assert _through(got, megabytes) == megabytes(stored), stored
        assert _through(got_sum, megabytes) == megabytes(stored), stored
        in_sql += not got.startswith(MARK)
    assert in_sql > len(values) // 2


def test_token_hints_in_sql_are_the_python_hints(engine: Engine) -> None:
    ctx = _ctx(lane())
    md = MetaData()
    t = Table("hint_cases", md, Column("id", Integer, primary_key=True), Column("h", Text))
    values = [None, "", "~", "~~", "1~abcde", "plain", "a~b~c", "ü~✓x", MARK, "1~" + MARK + "x"]
    with engine.begin() as conn:
        md.create_all(conn)
        conn.execute(t.insert(), [{"id": i, "h": v} for i, v in enumerate(values)])
        rows = conn.execute(select(t.c.h, sql_token_hint(t.c.h, ctx)).order_by(t.c.id)).all()
    for stored, got in rows:
        assert _through(got, token_hint) == token_hint(stored), stored
    assert sum(got is not None and got.startswith(MARK) for _, got in rows) == 2


def test_time_or_in_sql_writes_missing_for_null(engine: Engine) -> None:
    ctx = _ctx(lane(), "America/Denver")
    never = time_or(ctx, "never")
    form = sql_form(never, lane())
    assert form is not None
    assert sql_form(time_or(ctx, "never"), "mysql") is None
    md = MetaData()
    t = Table("time_or_cases", md, Column("id", Integer, primary_key=True), Column("v", DateTime))
    values = [None, datetime(2024, 3, 10, 9, 30), datetime(1, 1, 1, 0, 0, 1)]
    with engine.begin() as conn:
        md.create_all(conn)
        conn.execute(t.insert(), [{"id": i, "v": v} for i, v in enumerate(values)])
        raw = conn.execute(select(t.c.v).order_by(t.c.id)).scalars().all()
        got = conn.execute(select(form(t.c.v, ctx)).order_by(t.c.id)).scalars().all()
    assert [_through(g, never) for g in got] == [never(v) for v in raw]
    assert got[:2] == ["never", "2024-03-10T03:30:00-06:00"]


def test_mark_starts_no_value_sql_writes() -> None:
    assert MARK.isspace()  # a name holding it is never split in SQL
    assert lane() in ("sqlite", "postgresql")


def test_other_spaces_are_every_space_python_knows_but_the_plain_one() -> None:
    from reportcard.db import sqlnames

    found = "".join(c for c in map(chr, range(0x110000)) if c.isspace() and c != " ")
    assert found == sqlnames._OTHER_SPACE
