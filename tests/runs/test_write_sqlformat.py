"""Parts with formatters in SQL (``runs.query.sql_formatted``) write the Python path's bytes.

Every part of every report, as a shard writes it (its formatters' SQL forms, on the lane's
fast path when it qualifies), against the Python path on the part as declared (Python
formatters on raw values): the same bytes, with names and times that SQL leaves to Python
among them, and values that need quoting.
"""

from __future__ import annotations

import io
from datetime import datetime

import pytest
from sqlalchemy import Connection, Engine, select, update

from reportcard.db import tables
from reportcard.reports.catalog import all_reports
from reportcard.runs.query import sql_formatted
from reportcard.runs.write import (
    copy_eligible,
    lines_eligible,
    write_copy,
    write_lines,
    write_python,
)
from tests.databases import lane
from tests.reports.institution import build, context
from tests.runs.test_write import _make_hostile, _params

ODD_NAMES = [
    "Smith\t, John",
    "Cher",
    "Smith, John, Jr.",
    "Ng, James  Jr.",
    "Ng, Mary\u00a0Ann",
    'Clark, Katherine "Kate"',
    "Ng, James ſr",
    "\x1eMark, Leading",
    "Smith, John\nJr",
    "",
    "Ng, Mary Ann III",
]
ODD_TIMES = [
    datetime(1, 1, 1, 0, 0, 1),
    datetime(1969, 7, 20, 20, 17, 40),
    datetime(2150, 1, 1, 12),
    datetime(2024, 3, 10, 9, 59, 59, 999999),
]


def _make_odd(conn: Connection) -> None:
    """Names and times SQL leaves to Python, on every other user and login."""
    ids = conn.execute(select(tables.users.c.id).order_by(tables.users.c.id)).scalars().all()
    for i, user_id in enumerate(ids[::2]):
        conn.execute(
            update(tables.users)
            .where(tables.users.c.id == user_id)
            .values(sortable_name=ODD_NAMES[i % len(ODD_NAMES)])
        )
    p = tables.pseudonyms
    logins = conn.execute(select(p.c.id).order_by(p.c.id)).scalars().all()
    for i, login_id in enumerate(logins[1::2]):
        conn.execute(update(p).where(p.c.id == login_id).values(last_request_at=ODD_TIMES[i % 4]))
    terms = tables.enrollment_terms
    term_ids = conn.execute(select(terms.c.id).order_by(terms.c.id)).scalars().all()
    for i, term_id in enumerate(term_ids):
        conn.execute(update(terms).where(terms.c.id == term_id).values(end_at=ODD_TIMES[i % 4]))


@pytest.mark.parametrize("odd", [False, True], ids=["clean", "odd"])
def test_sql_formatted_parts_write_the_python_bytes(engine: Engine, odd: bool) -> None:
    with engine.begin() as conn:
        build(conn)
        if odd:
            _make_hostile(conn)
            _make_odd(conn)
    fast: list[str] = []
    for report_type, report in sorted(all_reports().items()):
        with engine.begin() as conn:
            ctx = context(conn, report_type, include_deleted="true", **_params(report_type))
        for name in report.select_parts(ctx):
            declared = report.part(name).build(ctx)
            pq = sql_formatted(declared, ctx)
            by_shard, by_python = io.BytesIO(), io.BytesIO()
            counts: list[int] = []
            if copy_eligible(engine, pq):
                n = write_copy(engine, pq, 0, 10**12, by_shard, counts.append)
            elif lines_eligible(engine, pq):
                n = write_lines(engine, pq, 0, 10**12, by_shard, counts.append)
            else:
                n = write_python(engine, pq, ctx, 0, 10**12, by_shard, counts.append)
            n_py = write_python(engine, declared, ctx, 0, 10**12, by_python, lambda n: None)
            assert by_shard.getvalue() == by_python.getvalue(), f"{report_type}/{name}"
            assert n == n_py == sum(counts), f"{report_type}/{name}"
            if pq.columns != declared.columns and (
                copy_eligible(engine, pq) or lines_eligible(engine, pq)
            ):
                fast.append(f"{report_type}/{name}")
    # The parts this is for now take COPY (the SQL forms are used on PostgreSQL only).
    if lane() == "postgresql":
        assert "last_user_access_csv/last_user_access" in fast
        assert "provisioning_csv/users" in fast
        assert "sis_export_csv/users" in fast
    else:
        assert fast == []
