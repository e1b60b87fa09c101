"""The execute step: one shard of a run writes its part file, with progress checkpoints.

A worker claims a queued shard with a conditional UPDATE (``claim_shard``), writes the rows of
its key range to its part file (``execute_shard``: the COPY, line or Python path of
``reportcard.runs.write``), adding to the run's progress every 1000 rows and stopping when the
run has ended. The shard that completes its run's last shard moves the run to ``compiling``,
in the same transaction, and its worker compiles it (``reportcard.runs.compile``).

Shards are idempotent: a re-run rewrites its part file from scratch, so a shard retried after a
crash (``shard_failed``, or the reaper for a worker that stopped beating) never duplicates or
loses a row.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Select,
    Update,
    and_,
    bindparam,
    case,
    exists,
    func,
    select,
    update,
)

from reportcard.clock import utcnow
from reportcard.db.engine import is_sqlite, read_conn, relaxed_commit
from reportcard.db.tables import account_reports, report_shards
from reportcard.reports.catalog import get_report
from reportcard.runs.context import build_context
from reportcard.runs.failures import failure_text
from reportcard.runs.formats import BOM, deflated_parts, output_format, wants_bom
from reportcard.runs.lifecycle import fail_run, get_run
from reportcard.runs.orphans import discard_run_files
from reportcard.runs.package import headed_key, header_bytes, part_key, piece_key
from reportcard.runs.pgprogress import PgProgress, pg_form
from reportcard.runs.query import BATCH, sql_formatted
from reportcard.runs.taken import Made, Taken
from reportcard.runs.write import (
    WHOLE_ROWS,
    Sink,
    copy_eligible,
    lines_eligible,
    write_copy,
    write_lines,
    write_python,
)
from reportcard.runs.zippieces import ZIP_LEVEL, DeflatePiece
from reportcard.settings import Settings
from reportcard.storage.base import Storage


class RunStopped(Exception):
    """The run was aborted, deleted or failed while a shard was writing."""


def claim_shard(conn: Connection, shard_id: int, worker_id: str) -> bool:
    """Take a queued shard for ``worker_id``; True when this call took it.

    The claim commits without waiting for its WAL flush (``relaxed_commit``): lost in a
    server crash, the shard is queued again, and its part file is rewritten from scratch.
    """
    relaxed_commit(conn)
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


def waiting_rows() -> Any:
    """The estimated rows of every shard of a running run that waits for a worker (a scalar
    subquery to select): NULL when none waits. See :func:`parallel_query`."""
    s, r = report_shards.c, account_reports.c
    return (
        select(func.sum(s.rows))
        .where(s.state == "queued", r.id == s.report_id, r.workflow_state == "running")
        .scalar_subquery()
    )


WAITING_SHARE = 4
"""A shard runs with parallel query when the rows waiting are at most its own over this."""


def parallel_query(waiting: int | None, own: int) -> bool:
    """Whether a shard of ``own`` estimated rows, starting while shards of ``waiting`` rows in
    all wait for a worker (None: none waits), runs its statement with the server's parallel
    query (PostgreSQL).

    When none waits, the other workers have nothing to take meanwhile, so the helpers use
    cores that would sit idle. While shards wait, a report's parallelism is its shards, one
    per worker: helpers would only take cores from the other workers. Unless the work waiting
    is small beside the shard's own (at most a ``WAITING_SHARE``-th of its rows): other
    workers, if there are any, finish it early in the shard's time and then sit idle, and a
    lone worker would leave its other cores idle throughout: the Multiple Grading Periods
    export's biggest term, taken first with the small terms queued behind it
    (docs/decisions/performance.md, "Issue 19: PostgreSQL parts in one range, with parallel
    query when no shard waits", and "the biggest shard with parallel query beside a little
    waiting work").
    """
    return waiting is None or waiting * WAITING_SHARE <= own


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


CHECKPOINT_RUN = _checkpoint_statement()


@dataclass(frozen=True)
class _CheckpointForm:
    """The checkpoint UPDATE compiled for one SQLite dialect: its text, the parameters in
    order with the fixed ones filled in, where each variable one goes, and the timestamps'
    bind processor. Built once per dialect (:func:`checkpoint_form`), not per shard."""

    sql: str
    params: tuple[Any, ...]
    slots: dict[str, list[int]]
    stamp: Callable[[Any], Any]


CHECKPOINT_VARIABLE = ("rows", "run", "now")
_FORMS: dict[Any, _CheckpointForm] = {}
_FORMS_LOCK = threading.Lock()


def checkpoint_form(dialect: Any) -> _CheckpointForm:
    """The checkpoint's compiled form for ``dialect`` (an engine's), compiled on first use.

    Compiling the UPDATE cost 0.7-0.8 ms of CPU, paid by every shard while it was done per
    shard (docs/decisions/performance.md, "Issue 19: the run's bookkeeping around a small
    part"); the form depends on the dialect alone."""
    form = _FORMS.get(dialect)
    if form is not None:
        return form
    compiled = CHECKPOINT_RUN.compile(dialect=dialect)
    names = list(compiled.positiontup or ())
    fixed = compiled.construct_params({"rows": 0, "run": 0, "now": None})
    stamp = account_reports.c.heartbeat_at.type.dialect_impl(dialect)
    form = _CheckpointForm(
        sql=str(compiled),
        params=tuple(fixed[name] for name in names),
        slots={key: [i for i, n in enumerate(names) if n == key] for key in CHECKPOINT_VARIABLE},
        stamp=stamp.bind_processor(dialect) or (lambda value: value),
    )
    with _FORMS_LOCK:
        return _FORMS.setdefault(dialect, form)


class _SqliteCheckpoint:
    """The checkpoint UPDATE compiled once for SQLite, run on the DB-API connection.

    Through SQLAlchemy's execution (a transaction object, the ``begin`` hook, the compiled
    cache, the result) a checkpoint cost 0.3-0.4 ms of CPU inside a shard; the same UPDATE
    with BEGIN IMMEDIATE and COMMIT on the driver's connection costs 0.15 ms, most of it
    SQLite's commit (docs/decisions/performance.md, "the SQLite line path, where the time
    goes"). The text, the parameters' order and the timestamps' bind processor are
    SQLAlchemy's own (:func:`checkpoint_form`), so the row written is the same.
    """

    def __init__(self, conn: Connection) -> None:
        self.form = checkpoint_form(conn.dialect)
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None
        self.dbapi: Any = dbapi

    def __call__(self, rows: int, run_id: int) -> int:
        """Adds ``rows``; the number of runs updated (0 once the run has ended)."""
        form = self.form
        params = list(form.params)
        for key, value in (("rows", rows), ("run", run_id), ("now", form.stamp(utcnow()))):
            for i in form.slots[key]:
                params[i] = value
        dbapi = self.dbapi
        dbapi.execute("BEGIN IMMEDIATE")
        try:
            count = dbapi.execute(form.sql, params).rowcount
        except BaseException:
            dbapi.execute("ROLLBACK")
            raise
        dbapi.execute("COMMIT")
        return int(count)


@contextmanager
def checkpoints(engine: Engine, run_id: int) -> Iterator[Callable[[int], None]]:
    """A shard's progress checkpoints, over one connection held while the shard runs.

    Each call adds its rows to the run's current_line and progress, and raises RunStopped if
    the run has ended. A checkpoint runs every 1000 rows: taking a pooled connection for each
    (with its pre-ping) and, on PostgreSQL, BEGIN, SET LOCAL and COMMIT around the UPDATE
    cost 0.5-0.75 ms apiece, 7-8% of a large shard. Here each checkpoint is one statement:
    on SQLite in its own short write transaction, run on the driver's connection
    (:class:`_SqliteCheckpoint`); on PostgreSQL in autocommit mode, with synchronous_commit
    off for the session (progress is not worth a WAL flush; a shard lost in a crash is redone
    from the start), reset before the connection goes back to the pool, and sent without
    waiting for its answer (``runs.pgprogress``): the answer is read at the next checkpoint,
    so a run that ended is noticed there, at most 1000 rows later, or when the shard's
    checkpoints end (leaving the ``with`` block raises RunStopped then).
    """
    with engine.connect() as conn:
        sqlite = is_sqlite(conn)
        if sqlite:
            update_run = _SqliteCheckpoint(conn)

            def checkpoint(rows: int) -> None:
                if update_run(rows, run_id) != 1:
                    raise RunStopped(run_id)

            yield checkpoint
            return
        conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.exec_driver_sql("SET synchronous_commit = off")
        progress = PgProgress(
            conn.connection.driver_connection,
            pg_form(CHECKPOINT_RUN, conn.dialect, CHECKPOINT_VARIABLE),
        )

        def pg_checkpoint(rows: int) -> None:
            if progress.poll():  # the answers of earlier checkpoints, as far as they are in
                raise RunStopped(run_id)
            progress.send({"rows": rows, "run": run_id, "now": utcnow()})

        try:
            yield pg_checkpoint
            progress.finish()
            if progress.stopped:
                raise RunStopped(run_id)
        finally:
            if not conn.invalidated:
                try:
                    progress.finish()  # an answer still in flight after an error
                    conn.exec_driver_sql("RESET synchronous_commit")
                except Exception:
                    # The session's state is unknown (a lost connection): never pool it, and
                    # let the error that ended the shard be the one reported.
                    conn.invalidate()


def execute_shard(
    engine: Engine,
    storage: Storage,
    shard_id: int,
    *,
    zip_level: int = ZIP_LEVEL,
    taken: Taken | None = None,
) -> bool:
    """Write one shard's part file. Returns True when this shard completed the run's shards.

    ``zip_level``: the deflate level of the piece when the run's file is a zip of CSVs.
    ``taken``: the run's one shard, taken by its planner (``plan_run(take=True)``), whose
    rows it holds: the shard's, the run's, one file, and no shard waiting (the plan's
    transaction saw none), which would otherwise be read here."""
    with read_conn(engine) as conn:
        if taken is not None:
            shard, run = taken.shard, taken.run
        else:
            shard = conn.execute(shard_row(shard_id)).one()
            run = get_run(conn, shard.report_id)
        report = get_report(run.report_type)
        assert report is not None
        ctx = build_context(conn, run)
        waiting = None
        if taken is not None:
            files = 1
        elif is_sqlite(conn):
            files = conn.execute(file_count(run.id)).scalar_one()
        else:  # one round trip for both
            files, waiting = conn.execute(file_count(run.id, waiting=True)).one()
        alone = not is_sqlite(conn) and parallel_query(
            None if waiting is None else int(waiting), int(shard.rows)
        )
        conn.rollback()
    # Formatters with a SQL form run in the statement, so the part can take a fast path.
    pq = sql_formatted(report.part(shard.part).build(ctx), ctx)
    # A zip of CSVs: the shard compresses its part itself, in parallel with the others.
    deflate = deflated_parts(ctx.params, report.always_zip, int(files))
    key = (piece_key if deflate else part_key)(run.id, shard.part_index, shard.seq)
    # One plain CSV: its first shard writes the file's start too, so the compile of a file
    # of one shard copies nothing (``package.write_csv``).
    headed = not deflate and shard.seq == 0 and output_format(ctx.params) == "csv"
    if headed:
        key = headed_key(key)
    pending = 0
    written = 0
    with checkpoints(engine, run.id) as checkpoint, storage.open_write(key) as file:
        piece = DeflatePiece(file, zip_level) if deflate else None
        out: Sink = file if piece is None else piece
        if headed:
            bom = BOM if wants_bom(ctx.params) else b""
            file.write(bom + header_bytes([c.header for c in pq.columns]))

        def progress(n: int) -> None:
            nonlocal pending
            pending += n
            if pending >= BATCH:
                checkpoint(pending)
                pending = 0

        if pq.columns and shard.lo <= shard.hi:
            if copy_eligible(engine, pq):
                written = write_copy(engine, pq, shard.lo, shard.hi, out, progress, alone)
            elif lines_eligible(engine, pq):
                small = int(shard.rows) <= WHOLE_ROWS  # estimated: read as one value
                written = write_lines(
                    engine,
                    pq,
                    shard.lo,
                    shard.hi,
                    out,
                    progress,
                    ctx=ctx,
                    whole=small,
                    estimate=int(shard.rows),
                )
            else:
                written = write_python(engine, pq, ctx, shard.lo, shard.hi, out, progress)
        if piece is not None:
            piece.close()  # only once every row is in: a failed shard publishes no piece
    if taken is not None:  # the run's compile: its context, part and (only) shard are these
        done = SimpleNamespace(**{**vars(shard), "rows": written})
        queries = {int(shard.part_index): pq}
        taken.made = Made(report=report, ctx=ctx, queries=queries, shards=[done])
    return finish_shard(engine, run.id, shard_id, written, storage.size(key), pending)


def finish_shard(
    engine: Engine, run_id: int, shard_id: int, written: int, size: int, pending: int
) -> bool:
    """Mark a written shard done, add its last ``pending`` rows to the run's progress, and move
    the run to ``compiling`` when no shard of it is left; True when this call did the move.

    The run's row is locked first, by every completion: one waits for any other of the same
    run in flight, so its check then sees that one's shard done (PostgreSQL's READ COMMITTED
    takes a snapshot per statement). Without the lock two shards ending at once, one with no
    rows left to add, could each see the other still running and leave the run running.

    The transaction commits without waiting for its WAL flush (``relaxed_commit``): lost in a
    server crash, the shard is running again with an old heartbeat, which the reaper queues
    again (or the run compiling, which the reaper compiles); the run's completion is a
    synchronous commit, which makes this one durable first."""
    now = utcnow()
    with engine.begin() as conn:
        relaxed_commit(conn)
        conn.execute(lock_run(run_id))
        res = conn.execute(shard_done(shard_id, written, size, now))
        if res.rowcount != 1:
            return False
        if pending:
            conn.execute(add_lines(run_id, pending))
        won = conn.execute(to_compiling(run_id, now))
        return won.rowcount == 1


# The statements of a shard's bookkeeping, built by functions so that the worker's warm-up
# (``runs.warmup.prime_statements``) compiles the very same ones before the first run.


def shard_row(shard_id: int) -> Select[Any]:
    """The shard's ``report_shards`` row."""
    return select(report_shards).where(report_shards.c.id == shard_id)


def file_count(run_id: int, *, waiting: bool = False) -> Select[Any]:
    """How many files (parts) the run's shards write; with ``waiting``, beside it the rows
    waiting for a worker in shards of running runs (``waiting_rows``), in the same SELECT."""
    files = select(func.count(func.distinct(report_shards.c.part_index))).where(
        report_shards.c.report_id == run_id
    )
    if not waiting:
        return files
    return select(files.scalar_subquery(), waiting_rows())


def lock_run(run_id: int) -> Select[Any]:
    """The run's row, locked for the rest of the transaction (PostgreSQL)."""
    r = account_reports.c
    return select(r.id).where(r.id == run_id).with_for_update()


def shard_done(shard_id: int, written: int, size: int, now: datetime) -> Update:
    s = report_shards.c
    return (
        update(report_shards)
        .where(s.id == shard_id, s.state == "running")
        .values(state="done", rows=written, bytes=size, ended_at=now, heartbeat_at=now)
    )


def add_lines(run_id: int, lines: int) -> Update:
    r = account_reports.c
    return (
        update(account_reports)
        .where(r.id == run_id)
        .values(current_line=func.coalesce(r.current_line, 0) + lines)
    )


def to_compiling(run_id: int, now: datetime) -> Update:
    """The run to ``compiling`` if it is running and none of its shards is left."""
    r = account_reports.c
    not_done = exists().where(report_shards.c.report_id == run_id, report_shards.c.state != "done")
    return (
        update(account_reports)
        .where(and_(r.id == run_id, r.workflow_state == "running", ~not_done))
        .values(workflow_state="compiling", heartbeat_at=now, updated_at=now)
    )


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
