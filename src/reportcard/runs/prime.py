"""The statements of every report's parts, compiled while a worker warms up (``runs.warmup``).

A run of a part executes two statements of its own: the planner's bounds (min, max and count
of its keys) and the shard's rows (the SQLite line path's ``printf`` lines, or a small
shard's lines as one value, ``write.whole_select``; or the part's SELECT). A big shard's
chunks of lines (``write.chunk_statements``) are not compiled here: they cost a shard of
tenths of a second a few milliseconds on its first run, and compiled for every part they
held 4 MB more in every worker. SQLAlchemy
compiles each the first time a process executes it, 2-6 ms of CPU for a part of a dozen
columns with their SQL formatting, which a worker's first run of each part paid
(docs/decisions/performance.md, "Issue 19: a small part's run: its statements compiled at
the warm-up"). Here they are compiled into the engine's cache without being executed
(``db.compiled.precompile``: the bounds would read the whole part), for each report's
declared parts as a run with no parameters but the part's own selection builds them, for one
root account of each zone the root accounts use: the cache key is the statement's structure,
so a run whose parameters change its statement (a term, deleted rows) still compiles its
own. PostgreSQL's COPY text is compiled with its values by every shard
(``write.write_copy``) and is not SQLAlchemy's to cache.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, func, insert, select

from reportcard.clock import utcnow
from reportcard.db.compiled import precompile
from reportcard.db.tables import accounts, report_shards
from reportcard.reports.catalog import all_reports
from reportcard.runs.compile import attachment_row
from reportcard.runs.context import build_context
from reportcard.runs.formats import Output
from reportcard.runs.plan import shard_values, taken_values
from reportcard.runs.planner import KeyRange
from reportcard.runs.query import bounds_select, range_select, sql_formatted
from reportcard.runs.write import copy_eligible, lines_eligible, lines_select, whole_select

log = logging.getLogger(__name__)


def zone_roots(conn: Connection) -> list[int]:
    """One root account of each time zone the root accounts use (the zone shapes a part's
    SQL-formatted times; the account's id is only a value)."""
    a = accounts.c
    rows = conn.execute(
        select(func.min(a.id)).where(a.root_account_id.is_(None)).group_by(a.default_time_zone)
    ).scalars()
    return sorted(int(i) for i in rows)


def prime_inserts(conn: Connection) -> None:
    """A plan's INSERT of its shards (one, several: an executemany, or one its planner took)
    and the compile's of its attachment."""
    row = shard_values(0, "", 0, 0, KeyRange(0, 0, 0))
    precompile(conn, insert(report_shards), [row])
    precompile(conn, insert(report_shards), [row, row])
    precompile(conn, insert(report_shards), [taken_values(row, "", utcnow())])
    run = SimpleNamespace(account_id=0, user_id=None)
    precompile(conn, attachment_row(run, Output("", "", "", 0), utcnow()))


def prime_parts(conn: Connection, roots: list[int]) -> int:
    """Compile every declared part's bounds and rows statements for each of ``roots``;
    returns how many parts were primed. A part whose build needs parameters it lacks is
    left to its first run."""
    primed = 0
    engine = conn.engine
    for root in roots:
        for name, report in sorted(all_reports().items()):
            for part in report.parts:
                run = SimpleNamespace(
                    id=0, account_id=root, parameters={part.name: "true"}, report_type=name
                )
                try:
                    ctx = build_context(conn, run)
                    pq = part.build(ctx)
                    if not pq.columns:
                        continue
                    precompile(conn, bounds_select(pq))
                    rows = sql_formatted(pq, ctx)
                    stmt: Any
                    if lines_eligible(engine, rows):
                        stmt = lines_select(rows, ctx, 0, 0)
                        whole = whole_select(rows, ctx, 0, 0)  # a small shard's
                        if whole is not None:
                            precompile(conn, whole)
                    elif copy_eligible(engine, rows):
                        primed += 1
                        continue
                    else:
                        stmt = range_select(rows, 0, 0)
                    precompile(conn, stmt)
                    primed += 1
                except Exception as exc:  # its parameters are missing or invalid
                    log.debug("part %s of %s not primed: %s", part.name, name, exc)
    return primed
