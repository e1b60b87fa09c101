"""The three steps a worker performs: plan a run into shards, execute a shard, compile a run.

Planning and compiling are each taken by exactly one worker through a conditional UPDATE.
Shards are idempotent: a re-run rewrites its part file from scratch, so a shard retried after a
crash never duplicates or loses a row.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    bindparam,
    case,
    exists,
    func,
    insert,
    select,
    text,
    update,
)

from reportcard.clock import utcnow
from reportcard.db.engine import is_sqlite, read_conn
from reportcard.db.tables import account_reports, attachments, report_shards
from reportcard.reports.catalog import Report, RunContext, get_report
from reportcard.reports.params import ReportInputError
from reportcard.runs.context import build_context
from reportcard.runs.events import run_ended
from reportcard.runs.failures import failure_text
from reportcard.runs.formats import output_format, write_output
from reportcard.runs.lifecycle import NO_FILE_TEXT, fail_run, get_run
from reportcard.runs.orphans import discard_run_files
from reportcard.runs.package import FilePart
from reportcard.runs.query import BATCH, bounds_select
from reportcard.runs.write import (
    copy_eligible,
    lines_eligible,
    write_copy,
    write_lines,
    write_python,
)
from reportcard.settings import Settings
from reportcard.storage.base import Storage

log = logging.getLogger(__name__)


class RunStopped(Exception):
    """The run was aborted, deleted or failed while a shard was writing."""


def part_key(run_id: int, part_index: int, seq: int) -> str:
    return f"runs/{run_id}/parts/{part_index:03d}-{seq:05d}.csv"


def split_range(lo: int, hi: int, count: int, target: int) -> list[tuple[int, int]]:
    """Split ``[lo, hi]`` into about ``count / target`` equal key ranges."""
    if count <= 0:
        return [(1, 0)]
    n = max(1, math.ceil(count / target))
    width = math.ceil((hi - lo + 1) / n)
    ranges = []
    start = lo
    while start <= hi:
        end = min(hi, start + width - 1)
        ranges.append((start, end))
        start = end + 1
    return ranges


def _cap_lock(conn: Connection, root_id: int) -> None:
    """Serialise cap checks per root account on PostgreSQL (SQLite writes are serial anyway)."""
    if not is_sqlite(conn):
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": 7_000_000 + root_id})


def claim_run(conn: Connection, run_id: int, root_id: int, cap: int, worker_id: str) -> bool:
    """Move a created run to running if its root account is under the concurrency cap."""
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


def plan_run(engine: Engine, settings: Settings, run_id: int, worker_id: str | None = None) -> bool:
    """Split a freshly claimed run into shards (or end it in error on bad input).

    The reading (parameters, bounds of every part) happens outside any write transaction, so
    a slow count never holds SQLite's write lock; the shards are written in one short one,
    and only while the run is still this planner's (``worker_id``, when given) and has no
    shards yet: a planner that stalled past the stale limit, whose run was planned again by
    another worker meanwhile, backs off and leaves that run alone. Returns False then.
    """
    with read_conn(engine) as conn:
        run = get_run(conn, run_id)
        if run is None or run.workflow_state != "running":
            return False
        if worker_id is not None and run.worker_id != worker_id:
            return False
        report = get_report(run.report_type)
        ctx = build_context(conn, run) if report is not None else None
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
    shards, total = _plan_shards(engine, settings, report, ctx, names)
    with engine.begin() as conn:
        if not still_planning(conn, run_id, worker_id):
            return False  # aborted, deleted, or re-planned by another worker meanwhile
        conn.execute(
            update(account_reports)
            .where(account_reports.c.id == run_id, account_reports.c.workflow_state == "running")
            .values(parameters=params, total_lines=total, current_line=0, updated_at=utcnow())
        )
        conn.execute(insert(report_shards), shards)
    return True


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
    planned = conn.execute(select(exists().where(report_shards.c.report_id == run_id))).scalar_one()
    return not planned


def _plan_shards(
    engine: Engine, settings: Settings, report: Report, ctx: RunContext, names: list[str]
) -> tuple[list[dict[str, Any]], int]:
    """Shard rows for every selected part, and the estimated number of rows in all.

    Workers take queued shards in id order, so the rows are inserted longest first (the
    part's count over its shard count; within a part, the highest keys first, where newer,
    still-live rows gather): two workers then end together instead of one waiting on the
    last big shard. The compile step orders parts by ``part_index`` and ``seq``, not by id.
    """
    shards: list[dict[str, Any]] = []
    sizes: list[float] = []
    total = 0
    with read_conn(engine) as conn:
        for index, name in enumerate(names):
            pq = report.part(name).build(ctx)
            if pq.columns:
                lo, hi, count = conn.execute(bounds_select(pq)).one()
            else:
                lo, hi, count = None, None, 0
            count = int(count or 0)
            total += count
            ranges = [(1, 0)] if lo is None else split_range(lo, hi, count, settings.shard_rows)
            sizes += [count / len(ranges)] * len(ranges)
            for seq, (a, b) in enumerate(ranges):
                shards.append(
                    {
                        "report_id": ctx.report_id,
                        "part": name,
                        "part_index": index,
                        "seq": seq,
                        "lo": a,
                        "hi": b,
                        "state": "queued",
                        "rows": 0,
                        "bytes": 0,
                        "attempts": 0,
                        "heartbeat_at": utcnow(),  # while queued: when it was queued
                    }
                )
        conn.rollback()
    order = sorted(range(len(shards)), key=lambda i: (-sizes[i], -shards[i]["seq"]))
    return [shards[i] for i in order], total


def claim_shard(conn: Connection, shard_id: int, worker_id: str) -> bool:
    now = utcnow()
    res = conn.execute(
        update(report_shards)
        .where(report_shards.c.id == shard_id, report_shards.c.state == "queued")
        .values(
            state="running",
            worker_id=worker_id,
            heartbeat_at=now,
            started_at=now,
            attempts=report_shards.c.attempts + 1,
        )
    )
    return res.rowcount == 1


def _checkpoint_statement() -> Any:
    """Built once: the UPDATE of a progress checkpoint, with bound values only.

    A checkpoint runs every 1000 rows; building the statement afresh each time cost more
    than executing it (a quarter of a large SQLite report's time went to SQL construction).
    The shard's own heartbeat is kept by the worker's keepalive thread (``run_shard``), not
    here: a second UPDATE per checkpoint repeated what that thread does.
    """
    r = account_reports.c
    line = func.coalesce(r.current_line, 0) + bindparam("rows")
    pct = case((r.total_lines > 0, (line * 100) / r.total_lines), else_=0)
    run = (
        update(account_reports)
        .where(r.id == bindparam("run"), r.workflow_state == "running")
        .values(
            current_line=line,
            progress=case((pct > 99, 99), else_=pct),
            heartbeat_at=bindparam("now"),
            updated_at=bindparam("now"),
        )
    )
    return run


_CHECKPOINT_RUN = _checkpoint_statement()


@contextmanager
def _checkpoints(engine: Engine, run_id: int) -> Iterator[Callable[[int], None]]:
    """A shard's progress checkpoints, over one connection held while the shard runs.

    Each call adds its rows to the run's current_line and progress, and raises RunStopped if
    the run has ended. A checkpoint runs every 1000 rows: taking a pooled connection for each
    (with its pre-ping) and, on PostgreSQL, BEGIN, SET LOCAL and COMMIT around the UPDATE
    cost 0.5-0.75 ms apiece, 7-8% of a large shard. Here each checkpoint is one statement:
    on PostgreSQL in autocommit mode, with synchronous_commit off for the session (progress
    is not worth a WAL flush; a shard lost in a crash is redone from the start), reset before
    the connection goes back to the pool; on SQLite in its own short write transaction.
    """
    with engine.connect() as conn:
        sqlite = is_sqlite(conn)
        if not sqlite:
            conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.exec_driver_sql("SET synchronous_commit = off")

        def checkpoint(rows: int) -> None:
            with conn.begin() if sqlite else nullcontext():
                res = conn.execute(_CHECKPOINT_RUN, {"rows": rows, "run": run_id, "now": utcnow()})
            if res.rowcount != 1:
                raise RunStopped(run_id)

        try:
            yield checkpoint
        finally:
            if not sqlite and not conn.invalidated:
                try:
                    conn.exec_driver_sql("RESET synchronous_commit")
                except Exception:
                    # The session's state is unknown (a lost connection): never pool it, and
                    # let the error that ended the shard be the one reported.
                    conn.invalidate()


def execute_shard(engine: Engine, storage: Storage, shard_id: int) -> bool:
    """Write one shard's part file. Returns True when this shard completed the run's shards."""
    with read_conn(engine) as conn:
        shard = conn.execute(select(report_shards).where(report_shards.c.id == shard_id)).one()
        run = get_run(conn, shard.report_id)
        report = get_report(run.report_type)
        assert report is not None
        ctx = build_context(conn, run)
        conn.rollback()
    pq = report.part(shard.part).build(ctx)
    key = part_key(run.id, shard.part_index, shard.seq)
    pending = 0
    written = 0
    with _checkpoints(engine, run.id) as checkpoint, storage.open_write(key) as out:

        def progress(n: int) -> None:
            nonlocal pending
            pending += n
            if pending >= BATCH:
                checkpoint(pending)
                pending = 0

        if pq.columns and shard.lo <= shard.hi:
            if copy_eligible(engine, pq):
                written = write_copy(engine, pq, shard.lo, shard.hi, out, progress)
            elif lines_eligible(engine, pq):
                written = write_lines(engine, pq, shard.lo, shard.hi, out, progress)
            else:
                written = write_python(engine, pq, ctx, shard.lo, shard.hi, out, progress)
    size = storage.size(key)
    now = utcnow()
    with engine.begin() as conn:
        res = conn.execute(
            update(report_shards)
            .where(report_shards.c.id == shard_id, report_shards.c.state == "running")
            .values(state="done", rows=written, bytes=size, ended_at=now, heartbeat_at=now)
        )
        if res.rowcount != 1:
            return False
        r = account_reports.c
        if pending:
            conn.execute(
                update(account_reports)
                .where(r.id == run.id)
                .values(current_line=func.coalesce(r.current_line, 0) + pending)
            )
        not_done = exists().where(
            report_shards.c.report_id == run.id, report_shards.c.state != "done"
        )
        won = conn.execute(
            update(account_reports)
            .where(and_(r.id == run.id, r.workflow_state == "running", ~not_done))
            .values(workflow_state="compiling", heartbeat_at=now, updated_at=now)
        )
        return won.rowcount == 1


def _file_parts(conn: Connection, report: Report, ctx: RunContext) -> list[FilePart]:
    shards = conn.execute(
        select(report_shards)
        .where(report_shards.c.report_id == ctx.report_id)
        .order_by(report_shards.c.part_index, report_shards.c.seq)
    ).all()
    parts: dict[int, tuple[str, list[str]]] = {}
    counts: dict[int, int] = {}
    for s in shards:
        parts.setdefault(s.part_index, (s.part, []))[1].append(
            part_key(ctx.report_id, s.part_index, s.seq)
        )
        counts[s.part_index] = counts.get(s.part_index, 0) + int(s.rows or 0)
    out = []
    for index in sorted(parts):
        name, keys = parts[index]
        pq = report.part(name).build(ctx)
        headers = [c.header for c in pq.columns]
        empty_rows = pq.if_empty if counts[index] == 0 else ()
        out.append(FilePart(name=name, headers=headers, keys=keys, empty_rows=empty_rows))
    return out


def _count_lines(parts: Sequence[FilePart], rows: int) -> int:
    return rows + len(parts) + sum(len(p.empty_rows) for p in parts)


def compile_run(engine: Engine, storage: Storage, run_id: int) -> None:
    """Assemble the parts into the attachment and complete the run (the compile winner only)."""
    with read_conn(engine) as conn:
        run = get_run(conn, run_id)
        if run is None or run.workflow_state != "compiling":
            return
        report = get_report(run.report_type)
        assert report is not None
        ctx = build_context(conn, run)
        parts = _file_parts(conn, report, ctx)
        rows = conn.execute(
            select(func.coalesce(func.sum(report_shards.c.rows), 0)).where(
                report_shards.c.report_id == run_id
            )
        ).scalar_one()
        conn.rollback()
    # The file in the format the run asks for (csv, xlsx, parquet), from the CSV parts.
    out = write_output(
        storage,
        report_type=run.report_type,
        run_id=run_id,
        parts=parts,
        always_zip=report.always_zip,
        params=run.parameters or {},
        now=utcnow(),
    )
    kept = finish(
        engine,
        run_id,
        report,
        ctx,
        out.filename,
        out.content_type,
        out.key,
        out.size,
        int(rows),
        parts,
    )
    if not kept and not _is_attached(engine, run_id, out.key):
        # Aborted or deleted while compiling: the file is no attachment's. (A compile redone
        # by the reaper while the first one was only slow may have written the very key the
        # winner attached: a zip's name has no random part. That one stays.)
        storage.delete(out.key)
    storage.delete_prefix(f"runs/{run_id}/parts")


def _is_attached(engine: Engine, run_id: int, key: str) -> bool:
    with read_conn(engine) as conn:
        held = conn.execute(
            select(attachments.c.storage_key)
            .select_from(
                account_reports.join(
                    attachments, attachments.c.id == account_reports.c.attachment_id
                )
            )
            .where(account_reports.c.id == run_id)
        ).scalar()
        conn.rollback()
    return held == key


def finish(
    engine: Engine,
    run_id: int,
    report: Report,
    ctx: RunContext,
    filename: str,
    content_type: str,
    key: str,
    size: int,
    rows: int,
    parts: Sequence[FilePart],
) -> bool:
    """Attach the file and complete the run; False when the run stopped while compiling."""
    now = utcnow()
    with engine.begin() as conn:
        run = get_run(conn, run_id)
        att = conn.execute(
            insert(attachments).values(
                uuid=uuid.uuid4().hex + uuid.uuid4().hex[:8],
                context_type="Account",
                context_id=run.account_id,
                user_id=run.user_id,
                filename=filename,
                display_name=filename,
                content_type=content_type,
                size=size,
                storage_key=key,
                workflow_state="processed",
                created_at=now,
                updated_at=now,
            )
        )
        pk = att.inserted_primary_key
        assert pk is not None
        extra = (run.parameters or {}).get("extra_text", "")
        message = (
            f"{report.title} report successfully generated with the following settings. "
            f"Account: {ctx.account_name}; {extra}"
        )
        res = conn.execute(
            update(account_reports)
            .where(account_reports.c.id == run_id, account_reports.c.workflow_state == "compiling")
            .values(
                workflow_state="complete",
                attachment_id=int(pk[0]),
                progress=100,
                current_line=_count_lines(parts, rows),
                message=message,
                end_at=func.coalesce(account_reports.c.end_at, now),
                updated_at=now,
            )
        )
        if res.rowcount != 1:
            # Aborted or deleted while compiling: Canvas attaches no file to a stopped run.
            conn.rollback()
            return False
        run_ended(conn, run_id)
    return True


def shard_failed(
    engine: Engine,
    settings: Settings,
    shard_id: int,
    error: str,
    exc: BaseException | None = None,
) -> int | None:
    """Retry a failed shard, or end its run in error once its attempts are used up.

    Returns the run's id when the run ended (its leftover files can go), else None.
    """
    with engine.begin() as conn:
        shard = conn.execute(select(report_shards).where(report_shards.c.id == shard_id)).one()
        if shard.attempts < settings.max_attempts:
            conn.execute(
                update(report_shards)
                .where(report_shards.c.id == shard_id, report_shards.c.state == "running")
                .values(state="queued", error=error, worker_id=None, heartbeat_at=utcnow())
            )
            return None
        conn.execute(
            update(report_shards)
            .where(report_shards.c.id == shard_id)
            .values(state="failed", error=error, ended_at=utcnow())
        )
        fail_run(conn, shard.report_id, failure_text(shard.report_id, exc), detail=error)
    return int(shard.report_id)


def shard_stopped(engine: Engine, storage: Storage, shard_id: int) -> None:
    """The shard's run ended while it wrote: mark it cancelled and drop the run's parts."""
    with engine.begin() as conn:
        conn.execute(
            update(report_shards)
            .where(report_shards.c.id == shard_id)
            .values(state="cancelled", ended_at=utcnow())
        )
        run_id = conn.execute(
            select(report_shards.c.report_id).where(report_shards.c.id == shard_id)
        ).scalar_one()
    discard_run_files(engine, storage, int(run_id))


def stale_before(settings: Settings, now: datetime) -> datetime:
    from datetime import timedelta

    return now - timedelta(seconds=settings.stale_seconds)
