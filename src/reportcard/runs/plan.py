"""The planning step: claim a created run, cut its parts into shards, queue them.

Claiming is one conditional UPDATE (``created`` to ``running``, only under the root account's
concurrency cap), so exactly one worker plans a run. Planning reads the run's parameters and
asks a planner (``reportcard.runs.planner``) for every part's key ranges outside any write
transaction, so a slow count never holds SQLite's write lock; the shards, with the priority
that orders them (``reportcard.runs.priority``), are written in one short transaction, and
only while the run is still this planner's and has no shards yet.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Select,
    Update,
    exists,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.pool import SingletonThreadPool, StaticPool
from sqlalchemy.sql.elements import False_

from reportcard.clock import utcnow
from reportcard.db.engine import PARALLEL_QUERY, is_sqlite, read_conn, relaxed_commit
from reportcard.db.tables import account_reports, report_shards
from reportcard.reports.catalog import PartQuery, Report, RunContext, get_report
from reportcard.reports.params import ReportInputError
from reportcard.runs.context import build_context
from reportcard.runs.costs import seconds_per_row
from reportcard.runs.execute import waiting_rows
from reportcard.runs.formats import output_format
from reportcard.runs.lifecycle import NO_FILE_TEXT, fail_run, get_run
from reportcard.runs.planner import DEFAULT_PLANNER, EMPTY_RANGE, KeyRange, Planner
from reportcard.runs.priority import ShardSize, priorities
from reportcard.runs.taken import Taken
from reportcard.settings import Settings


def _cap_lock(conn: Connection, root_id: int) -> None:
    """Serialise cap checks per root account on PostgreSQL (SQLite writes are serial anyway)."""
    if not is_sqlite(conn):
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": 7_000_000 + root_id})


def claim_run(conn: Connection, run_id: int, root_id: int, cap: int, worker_id: str) -> bool:
    """Move a created run to running if its root account is under the concurrency cap.

    The claim commits without waiting for its WAL flush (``relaxed_commit``): a claim lost in
    a server crash leaves the run created, for a worker to claim again.
    """
    relaxed_commit(conn)
    _cap_lock(conn, root_id)
    running = (
        select(func.count())
        .select_from(account_reports)
        .where(
            account_reports.c.root_account_id == root_id,
            account_reports.c.workflow_state.in_(("running", "compiling")),
        )
        .scalar_subquery()
    )
    now = utcnow()
    res = conn.execute(
        update(account_reports)
        .where(
            account_reports.c.id == run_id,
            account_reports.c.workflow_state == "created",
            running < cap,
        )
        .values(
            workflow_state="running",
            start_at=now,
            heartbeat_at=now,
            worker_id=worker_id,
            attempt=account_reports.c.attempt + 1,
            updated_at=now,
        )
    )
    return res.rowcount == 1


def plan_run(
    engine: Engine,
    settings: Settings,
    run_id: int,
    worker_id: str | None = None,
    planner: Planner = DEFAULT_PLANNER,
    *,
    take: bool = False,
) -> bool | Taken:
    """Split a freshly claimed run into shards (or end it in error on bad input).

    Only while the run is still this planner's (``worker_id``, when given) and has no shards
    yet: a planner that stalled past the stale limit, whose run was planned again by another
    worker meanwhile, backs off and leaves that run alone. Returns False then, True when the
    run was planned or ended.

    ``take`` (with ``worker_id``): a run planned as one shard, while no shard of any running
    run waits for a worker, has that shard written as ``worker_id``'s, running, in the plan's
    own transaction, as ``runs.execute.claim_shard`` would have taken it next; returned as a
    :class:`Taken` for the planner to execute at once (``Worker``'s one-shard path). A crash
    after the commit leaves a running shard whose heartbeat stops, which the reaper queues
    again, as after any claim.
    """
    with read_conn(engine) as conn:
        run = get_run(conn, run_id)
        if run is None or run.workflow_state != "running":
            return False
        if worker_id is not None and run.worker_id != worker_id:
            return False
        report = get_report(run.report_type)
        ctx = build_context(conn, run) if report is not None else None
        # No shard of a running run waits for a worker: a lone part's count may use helpers.
        idle = not is_sqlite(conn) and conn.execute(rows_waiting()).scalar() is None
        conn.rollback()
    if report is None or ctx is None:
        with engine.begin() as conn:
            fail_run(conn, run_id, NO_FILE_TEXT, detail=f"unknown report {run.report_type}")
        return True
    try:
        output_format(run.parameters or {})  # a run not started through the API (CLI, schedule)
        names = report.select_parts(ctx)
        extra = report.extra_text(ctx)
    except ReportInputError as exc:
        with engine.begin() as conn:
            if still_planning(conn, run_id, worker_id):
                fail_run(conn, run_id, str(exc))
        return True
    params = dict(run.parameters or {})
    params["extra_text"] = extra
    if not names:
        with engine.begin() as conn:
            if not still_planning(conn, run_id, worker_id):
                return False
            conn.execute(
                update(account_reports)
                .where(account_reports.c.id == run_id)
                .values(parameters=params)
            )
            fail_run(conn, run_id, NO_FILE_TEXT, detail="no file selected")
        return True
    shards, total = plan_shards(
        engine, settings.shard_rows, report, ctx, names, planner, parallel=idle
    )
    with engine.begin() as conn:
        if not still_planning(conn, run_id, worker_id):
            return False  # aborted, deleted, or re-planned by another worker meanwhile
        # Lost in a server crash, the plan leaves a running run with no shards: the reaper
        # hands it back to ``created`` (a taken shard too: its run goes back with it).
        relaxed_commit(conn)
        conn.execute(record_plan(run_id, params, total))
        alone = take and worker_id is not None and len(shards) == 1
        if alone and worker_id is not None and not conn.execute(shards_waiting()).scalar_one():
            shard = taken_values(shards[0], worker_id, utcnow())
            pk = conn.execute(insert(report_shards), shard).inserted_primary_key
            assert pk is not None
            row = {**run._mapping, "parameters": params, "total_lines": total}
            return Taken(shard=SimpleNamespace(id=int(pk[0]), **shard), run=SimpleNamespace(**row))
        conn.execute(insert(report_shards), shards)
    return True


def shards_waiting() -> Select[Any]:
    """Whether a shard of a running run waits for a worker (what ``Worker._shard`` takes
    before planning: a planner takes its run's one shard only when none does)."""
    s, r = report_shards.c, account_reports.c
    return select(
        exists().where(s.state == "queued", r.id == s.report_id, r.workflow_state == "running")
    )


def taken_values(shard: dict[str, Any], worker_id: str, now: datetime) -> dict[str, Any]:
    """A planned shard's row as ``worker_id``'s, running: what ``claim_shard`` would write."""
    return {
        **shard,
        "state": "running",
        "worker_id": worker_id,
        "heartbeat_at": now,
        "started_at": now,
        "attempts": shard["attempts"] + 1,
    }


def record_plan(run_id: int, params: dict[str, Any], total: int) -> Update:
    """The planned run's parameters (with its extra text) and estimated lines."""
    r = account_reports.c
    return (
        update(account_reports)
        .where(r.id == run_id, r.workflow_state == "running")
        .values(parameters=params, total_lines=total, current_line=0, updated_at=utcnow())
    )


def still_planning(conn: Connection, run_id: int, worker_id: str | None) -> bool:
    """Whether the run is running, unplanned (no shards) and, when given, ``worker_id``'s.

    On PostgreSQL the run's row is locked for the rest of the transaction (two planners'
    final transactions then follow one another); SQLite's write transactions are serial.
    """
    r = account_reports.c
    stmt = select(r.workflow_state, r.worker_id).where(r.id == run_id)
    if not is_sqlite(conn):
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).first()
    if row is None or row.workflow_state != "running":
        return False
    if worker_id is not None and row.worker_id != worker_id:
        return False
    planned = conn.execute(has_shards(run_id)).scalar_one()
    return not planned


def rows_waiting() -> Select[Any]:
    """The estimated rows of the shards of running runs waiting for a worker (NULL: none)."""
    return select(waiting_rows())


def has_shards(run_id: int) -> Select[Any]:
    """Whether the run has been planned (has shards)."""
    return select(exists().where(report_shards.c.report_id == run_id))


def plan_shards(
    engine: Engine,
    shard_rows: int,
    report: Report,
    ctx: RunContext,
    names: list[str],
    planner: Planner = DEFAULT_PLANNER,
    *,
    parallel: bool = False,
) -> tuple[list[dict[str, Any]], int]:
    """The ``report_shards`` rows of every selected part, and the estimated rows in all.

    ``parallel``: the parts' bounds queries may use the server's parallel query (see
    :func:`plan_parts`).

    Each part's shards are numbered (``seq``) in key order, which is the order the compile
    step concatenates them in; ``priority`` is the order workers take them in, longest first
    by the parts' seconds per row in the account's recent runs of the report (a run of one
    part orders its shards by rows alone: the same order).
    """
    shards: list[dict[str, Any]] = []
    sizes: list[ShardSize] = []
    total = 0
    costs: dict[str, float] = {}
    if len(names) > 1:  # one part's figure would scale all its shards alike: no order to learn
        with read_conn(engine) as conn:
            costs = seconds_per_row(conn, ctx.account_id, ctx.report_type, names)
            conn.rollback()
    queries = [report.part(name).build(ctx) for name in names]
    for index, (name, ranges) in enumerate(
        zip(names, plan_parts(engine, planner, queries, shard_rows, parallel), strict=True)
    ):
        for seq, kr in enumerate(ranges):
            total += kr.rows
            sizes.append(ShardSize(part_index=index, seq=seq, rows=kr.rows))
            shards.append(shard_values(ctx.report_id, name, index, seq, kr))
    # Written in file and key order: the order workers take them in is ``priority`` alone.
    per_row = {i: costs[name] for i, name in enumerate(names) if name in costs}
    for shard, rank in zip(shards, priorities(sizes, per_row), strict=True):
        shard["priority"] = rank
    return shards, total


def shard_values(report_id: int, part: str, index: int, seq: int, kr: KeyRange) -> dict[str, Any]:
    """A queued shard's ``report_shards`` row (its ``priority`` is set once all are known).

    The keys are the INSERT's parameters, part of its compiled form's cache key: the worker's
    warm-up (``runs.warmup``) compiles the INSERT with these very keys."""
    return {
        "report_id": report_id,
        "part": part,
        "part_index": index,
        "seq": seq,
        "lo": kr.lo,
        "hi": kr.hi,
        "state": "queued",
        # Estimated until the shard is done (``runs.execute.parallel_query``).
        "rows": kr.rows,
        "bytes": 0,
        "attempts": 0,
        "heartbeat_at": utcnow(),  # while queued: when it was queued
        "priority": 0,
    }


PLAN_THREADS = 4
"""How many parts' bounds queries a planner runs at once."""


def plan_parts(
    engine: Engine,
    planner: Planner,
    queries: list[PartQuery],
    shard_rows: int,
    parallel: bool = False,
) -> list[list[KeyRange]]:
    """Each part's key ranges, in the parts' order; several parts at once.

    A run's parts are planned while every other worker waits for its shards, and their
    bounds queries (min, max and count over each part's rows) are independent: on the
    ``large`` institution the twelve provisioning files' took seconds one after another.
    Each runs on a read connection of its own, in a few threads (SQLite and psycopg release
    the GIL while a query runs); an engine whose pool shares one connection (an in-memory
    SQLite database) plans them in turn. A planner is therefore called from several threads.
    A part whose rows are none by its own terms (``WHERE false``: a Multiple Grading Periods
    term with no grading period set) is one empty range without a query.

    ``parallel`` (PostgreSQL): no shard of a running run waits for a worker (see
    :func:`plan_run`). Then, when only one part's bounds query runs, it runs with the
    server's parallel query, as a shard does when none waits (``runs.execute.parallel_query``):
    the run's own shards do not exist yet, so every worker but the planner is idle, and the
    count is all the run does meanwhile (zero activity with a start date counts its
    candidates by a scan of ``enrollments``: 0.38-0.67 s serial, 0.24-0.31 s with helpers,
    docs/decisions/performance.md, "Issue 19: PostgreSQL checkpoints sent without waiting").
    Several parts' counts already share the cores (the threads here), and keep serial.
    """
    counted = [pq for pq in queries if not known_empty(pq)]
    helpers = parallel and len(counted) == 1

    def one(pq: PartQuery) -> list[KeyRange]:
        if known_empty(pq):
            return [EMPTY_RANGE]
        with read_conn(engine) as conn:
            try:
                if helpers:
                    conn.exec_driver_sql(PARALLEL_QUERY)  # undone by the rollback below
                return planner.plan(conn, pq, shard_rows * pq.shard_scale)
            finally:
                conn.rollback()

    if len(counted) <= 1 or isinstance(engine.pool, StaticPool | SingletonThreadPool):
        return [one(pq) for pq in queries]
    with ThreadPoolExecutor(min(PLAN_THREADS, len(counted)), "plan") as pool:
        return list(pool.map(one, queries))


def known_empty(pq: PartQuery) -> bool:
    """Whether the part's rows are none by its own terms: a literal false among them."""
    return any(isinstance(term, False_) for term in pq.where)
