"""The SQL forms of the formatters write what the Python formatters write, for every value.

Each value goes through the SQL expression (in the lane's database) and, when SQL leaves it to
Python (``MARK`` + the stored value), through the Python formatter; the result must equal the
Python formatter's on the stored value. Names are generated from tricky pieces (suffixes in
every case, Roman numerals, folding characters, every kind of whitespace, extra commas);
times cover every offset change of DST zones in the window, its edges and values outside it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    Table,
    Text,
    literal,
    select,
    type_coerce,
)
from sqlalchemy.types import TIMESTAMP

from reportcard.reports.catalog import RunContext
from reportcard.reports.formatting import first_name, last_name, time_formatter
from reportcard.reports.sqlformat import (
    MARK,
    TIME_WINDOW,
    offset_segments,
    sql_first_name,
    sql_last_name,
    sql_time,
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


def test_mark_starts_no_value_sql_writes() -> None:
    assert MARK.isspace()  # a name holding it is never split in SQL
    assert lane() in ("sqlite", "postgresql")
