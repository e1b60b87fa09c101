"""The check that every scores row holds the text of its scores (``scores.<kind>_score_text``,
which the grade exports read on SQLite), and scores of every shape to write."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, inspect, select

from reportcard.db.learning_tables import SCORE_KINDS, scores
from reportcard.rubyfloat import ruby_float
from tests.databases import rows_of

# Scores of every shape: NaN (SQLite stores NULL), infinities, exponents both ways, -0.0
# (SQLite stores 0.0), 16-17 significant digits, the edges of PostgreSQL's plain text (1e-4,
# 1e15) and of Ruby's (1e16), the extremes, whole numbers and NULL.
ODD_SCORES: list[float | None] = [
    float("nan"),
    float("inf"),
    float("-inf"),
    1e20,
    1e-5,
    -0.0,
    0.0,
    87.33333333333333,
    0.1 + 0.2,
    -12.345678901234567,
    1e-4,
    9.999999999999999e-5,
    1e15,
    1234567890123456.8,
    -1.5e15,
    9999999999999998.0,
    1e16,
    123456789012345.6,
    999999999999999.0,
    5e-324,
    1.7976931348623157e308,
    88.0,
    -3.0,
    100.5,
    None,
]


def text_of(value: Any) -> str | None:
    """The text a row holding ``value`` (as read back) must have."""
    return ruby_float(value)


def assert_score_text(bind: Engine | Connection) -> int:
    """Every scores row's ``<kind>_score_text`` is ``ruby_float(<kind>_score)`` of the score as
    stored; returns the number of rows checked. PostgreSQL has no such column (SQLite's alone,
    ``reportcard.db.functions.sqlite_only``): that is checked, and the rows are counted."""
    if bind.dialect.name == "postgresql":
        assert not score_text_columns(bind)
        return len(rows_of(bind, select(scores.c.id)))
    cols = [scores.c.id]
    for kind in SCORE_KINDS:
        cols += [scores.c[f"{kind}_score"], scores.c[f"{kind}_score_text"]]
    query = select(*cols)
    rows = rows_of(bind, query)
    wrong = [
        (r.id, kind, r._mapping[f"{kind}_score"], r._mapping[f"{kind}_score_text"])
        for r in rows
        for kind in SCORE_KINDS
        if r._mapping[f"{kind}_score_text"] != text_of(r._mapping[f"{kind}_score"])
    ]
    assert not wrong, wrong[:10]
    return len(rows)


def score_text_columns(bind: Engine | Connection) -> list[str]:
    """The ``*_score_text`` columns the database's scores table has."""
    found = inspect(bind).get_columns("scores")
    return [str(c["name"]) for c in found if str(c["name"]).endswith("_score_text")]
