"""The worker loop shared by the embedded threads and ``reportcard worker``.

A worker repeatedly: executes a queued shard (compiling the run if it was the last one),
else plans a created run (respecting the per-root-account cap), else reaps stale work, else
sleeps until woken or the poll interval passes. The database is the queue: any number of
workers in any number of processes can run this loop against the same database. Queued shards
are taken oldest run first, then in the ``priority`` order the run's plan stored with them
(``reportcard.runs.priority``), never in insertion order.

The steps themselves live beside this loop: ``runs.plan`` (claim and plan a run),
``runs.execute`` (one shard), ``runs.compile`` (the run's file).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import Engine, Table, and_, exists, select, update

from reportcard.clock import utcnow
from reportcard.db.engine import read_conn
from reportcard.db.tables import account_reports, report_shards
from reportcard.runs.compile import compile_run
from reportcard.runs.execute import (
    RunStopped,
    claim_shard,
    execute_shard,
    shard_failed,
    shard_stopped,
)
from reportcard.runs.failures import failure_text
from reportcard.runs.hooks import hooks_of
from reportcard.runs.housekeeping import run_due
from reportcard.runs.lifecycle import fail_run
from reportcard.runs.orphans import discard_run_files
from reportcard.runs.plan import claim_run, plan_run, still_planning
from reportcard.runs.planner import DEFAULT_PLANNER, Planner
from reportcard.runs.taken import Taken
from reportcard.runs.warmup import warm_up
from reportcard.settings import Settings
from reportcard.storage.base import Storage

log = logging.getLogger(__name__)


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@contextmanager
def keepalive(engine: Engine, table: Table, row_id: int, every: float) -> Iterator[None]:
    """Refresh ``heartbeat_at`` of one row every ``every`` seconds while the block runs."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(every):
            try:
                with engine.begin() as conn:
                    conn.execute(
                        update(table).where(table.c.id == row_id).values(heartbeat_at=utcnow())
                    )
            except Exception:  # pragma: no cover - a missed beat is retried next time
                log.exception("heartbeat failed")

    thread = threading.Thread(target=beat, name=f"heartbeat-{table.name}-{row_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


class Worker:
    """One worker; call :meth:`step` in a loop or :meth:`run` until ``stop`` is set."""

    def __init__(
        self,
        engine: Engine,
        storage: Storage,
        settings: Settings,
        worker_id: str | None = None,
        wake: threading.Event | None = None,
        planned: Callable[[int], None] | None = None,
        planner: Planner = DEFAULT_PLANNER,
        take_alone: bool = True,
    ) -> None:
        self.engine = engine
        self.storage = storage
        self.settings = settings
        self.worker_id = worker_id or new_worker_id()
        self.wake = wake or threading.Event()
        # Told each run this worker planned (the queue's "shards planned"); by default it
        # wakes the workers sharing ``wake``, which find the shards in the database.
        self.planned: Callable[[int], None] = planned or (lambda run_id: self.wake.set())
        self.planner = planner  # cuts each part of a run into key ranges
        # A run planned as one shard is executed by its planner at once (``plan``'s ``take``)
        # instead of being queued, read back and claimed; off, every shard is queued.
        self.take_alone = take_alone

    # ------------------------------------------------------------------ one unit of work
    def step(self) -> bool:
        """Do one unit of work; False when there was nothing to do."""
        return (
            self._shard()
            or self._plan()
            or self.other_work()
            or self.reap() > 0
            or self.housekeep() > 0
        )

    def warm_up(self) -> None:
        """Prepare the process for its first run (``reportcard.runs.warmup``)."""
        warm_up(self.engine)

    def run(self, stop: threading.Event) -> None:
        self.warm_up()
        while not stop.is_set():
            try:
                busy = self.step()
            except Exception:  # pragma: no cover - keep the worker alive
                log.exception("worker step failed")
                busy = False
            if not busy:
                self.wake.wait(self.settings.poll_seconds)
                self.wake.clear()

    def other_work(self) -> bool:
        """One unit of the other work the runtime installed (a created SIS import), if any."""
        return any(
            work(self.engine, self.storage, self.settings, self.worker_id)
            for work in list(hooks_of(self.engine).work.values())
        )

    def _shard(self) -> bool:
        with self.engine.connect() as conn:
            conn.info["write"] = False
            candidates = conn.execute(
                select(report_shards.c.id, report_shards.c.report_id)
                .join(account_reports, account_reports.c.id == report_shards.c.report_id)
                .where(
                    report_shards.c.state == "queued",
                    account_reports.c.workflow_state == "running",
                )
                # The oldest run first, and its shards in the order its plan gave them.
                .order_by(report_shards.c.report_id, report_shards.c.priority)
                .limit(8)
            ).all()
            conn.info["write"] = True
            conn.rollback()
        for shard_id, run_id in candidates:
            with self.engine.begin() as conn:
                claimed = claim_shard(conn, shard_id, self.worker_id)
            if claimed:
                self.run_shard(shard_id, run_id)
                return True
        return False

    def run_shard(
        self, shard_id: int, run_id: int | None = None, taken: Taken | None = None
    ) -> None:
        """Execute a claimed shard; compile its run when it was the run's last.

        ``run_id``: the shard's run, when the caller knows it (else read here). ``taken``:
        the run's one shard as its planner took it (``execute_shard``).
        """
        if run_id is None:
            with read_conn(self.engine) as conn:
                run_id = conn.execute(
                    select(report_shards.c.report_id).where(report_shards.c.id == shard_id)
                ).scalar_one()
                conn.rollback()
        try:
            with keepalive(self.engine, report_shards, shard_id, self.settings.heartbeat_seconds):
                last = execute_shard(
                    self.engine,
                    self.storage,
                    shard_id,
                    zip_level=self.settings.zip_level,
                    taken=taken,
                )
        except RunStopped:
            shard_stopped(self.engine, self.storage, shard_id)
            return
        except Exception as exc:
            log.exception("shard %s failed", shard_id)
            ended = shard_failed(
                self.engine, self.settings, shard_id, traceback.format_exc(limit=5), exc
            )
            if ended is not None:  # the run is over: its parts (a full disk's too) can go
                discard_run_files(self.engine, self.storage, ended)
            return
        if last:
            self.compile(run_id, taken)
        else:
            # A shard too short to reach a checkpoint finishes even when its run was stopped
            # meanwhile: then the run's parts are nobody's (nothing happens while it runs).
            discard_run_files(self.engine, self.storage, run_id)

    def compile(self, run_id: int, taken: Taken | None = None) -> None:
        try:
            with keepalive(self.engine, account_reports, run_id, self.settings.heartbeat_seconds):
                compile_run(self.engine, self.storage, run_id, taken)
        except Exception as exc:
            log.exception("compiling run %s failed", run_id)
            with self.engine.begin() as conn:
                fail_run(
                    conn,
                    run_id,
                    failure_text(run_id, exc),
                    detail=traceback.format_exc(limit=5),
                )
            discard_run_files(self.engine, self.storage, run_id)

    def _plan(self) -> bool:
        with self.engine.connect() as conn:
            conn.info["write"] = False
            created = conn.execute(
                select(account_reports.c.id, account_reports.c.root_account_id)
                .where(account_reports.c.workflow_state == "created")
                .order_by(account_reports.c.id)
                .limit(16)
            ).all()
            conn.info["write"] = True
            conn.rollback()
        for run_id, root_id in created:
            with self.engine.begin() as conn:
                claimed = claim_run(
                    conn, run_id, root_id, self.settings.concurrency_per_root, self.worker_id
                )
            if claimed:
                planned = self.plan(run_id, take=self.take_alone)
                if isinstance(planned, Taken):
                    self.run_shard(planned.shard.id, run_id, planned)
                elif planned:
                    self.planned(run_id)
                return True
        return False

    def plan(self, run_id: int, take: bool = False) -> bool | Taken:
        """Plan a run this worker claimed, beating its heartbeat meanwhile; True if planned.

        The heartbeat keeps the reaper from handing a slow plan (a long count, a database
        restart) to another worker. Should that happen anyway (a stall longer than the stale
        limit), the plan that finds the run no longer its own backs off (``plan_run``), and a
        failure of a run that is no longer this worker's is not this worker's to report.

        ``take``: a run planned as one shard, with no other shard waiting, is returned as its
        shard, already this worker's (:class:`~reportcard.runs.plan.Taken`): the worker loop
        executes it at once instead of queueing it, reading the queue and claiming it back.
        """
        try:
            with keepalive(self.engine, account_reports, run_id, self.settings.heartbeat_seconds):
                return plan_run(
                    self.engine, self.settings, run_id, self.worker_id, self.planner, take=take
                )
        except Exception as exc:
            log.exception("planning run %s failed", run_id)
            with self.engine.begin() as conn:
                if still_planning(conn, run_id, self.worker_id):
                    fail_run(
                        conn,
                        run_id,
                        failure_text(run_id, exc),
                        detail=traceback.format_exc(limit=5),
                    )
            return False

    def housekeep(self) -> int:
        """Periodic jobs (mail, schedules, webhooks, retention) whose time has come."""
        return run_due(self.engine, self.storage, self.settings)

    # ------------------------------------------------------------------ the reaper
    def stale_work(self, cutoff: datetime) -> bool:
        """Whether anything beat last before ``cutoff``: a running shard, a running run
        with no shards (its planner died) or a compiling run; one read, no write lock.

        An idle worker reaps at every poll: without this check each reap was a write
        transaction (on SQLite the database's write lock) that nearly always found nothing.
        The reaper's UPDATEs keep their own conditions, so work that moves on between this
        read and them is left alone.
        """
        s, r = report_shards.c, account_reports.c
        has_shards = exists().where(s.report_id == r.id)
        stmt = select(
            exists().where(s.state == "running", s.heartbeat_at < cutoff),
            exists().where(r.workflow_state == "running", r.heartbeat_at < cutoff, ~has_shards),
            exists().where(r.workflow_state == "compiling", r.heartbeat_at < cutoff),
        )
        with read_conn(self.engine) as conn:
            found = conn.execute(stmt).one()
            conn.rollback()
        return any(found)

    def reap(self, stale_seconds: float | None = None) -> int:
        """Recover work whose worker stopped beating; returns how many items it touched."""
        now = utcnow()
        cutoff = now - timedelta(seconds=stale_seconds or self.settings.stale_seconds)
        if not self.stale_work(cutoff):
            return 0
        touched = 0
        requeued: set[int] = set()  # runs with work queued again: news for every worker
        s = report_shards.c
        with self.engine.begin() as conn:
            stale = conn.execute(
                select(s.id, s.attempts, s.report_id).where(
                    s.state == "running", s.heartbeat_at < cutoff
                )
            ).all()
            for shard_id, attempts, run_id in stale:
                if attempts < self.settings.max_attempts:
                    conn.execute(
                        update(report_shards)
                        .where(s.id == shard_id, s.state == "running", s.heartbeat_at < cutoff)
                        .values(state="queued", worker_id=None, error="worker lost")
                    )
                    requeued.add(int(run_id))
                else:
                    conn.execute(
                        update(report_shards)
                        .where(s.id == shard_id)
                        .values(state="failed", error="worker lost", ended_at=now)
                    )
                    fail_run(
                        conn,
                        run_id,
                        "Failed, the report's worker stopped responding too many times.",
                        detail=f"shard {shard_id}: worker lost after {attempts} attempts",
                    )
                touched += 1
            # A run claimed but never planned (its planner died): back to created.
            r = account_reports.c
            has_shards = exists().where(s.report_id == r.id)
            replan = (
                conn.execute(
                    update(account_reports)
                    .where(
                        and_(r.workflow_state == "running", r.heartbeat_at < cutoff, ~has_shards)
                    )
                    .values(workflow_state="created", worker_id=None)
                    .returning(r.id)
                )
                .scalars()
                .all()
            )
            touched += len(replan)
            requeued.update(int(run_id) for run_id in replan)
            orphans = (
                conn.execute(
                    select(r.id).where(r.workflow_state == "compiling", r.heartbeat_at < cutoff)
                )
                .scalars()
                .all()
            )
        # After the commit: wake this process's workers and (PostgreSQL's NOTIFY through the
        # queue's "shards planned") those of the others, instead of leaving the work to polls.
        for run_id in sorted(requeued):
            self.planned(run_id)
        for run_id in orphans:
            with self.engine.begin() as conn:
                res = conn.execute(
                    update(account_reports)
                    .where(
                        account_reports.c.id == run_id,
                        account_reports.c.workflow_state == "compiling",
                        account_reports.c.heartbeat_at < cutoff,
                    )
                    .values(heartbeat_at=utcnow(), worker_id=self.worker_id)
                )
            if res.rowcount == 1:
                self.compile(run_id)
                touched += 1
        return touched


class WorkerPool:
    """``n`` worker threads in this process (the embedded queue)."""

    def __init__(
        self,
        engine: Engine,
        storage: Storage,
        settings: Settings,
        n: int,
        wake: threading.Event | None = None,
        planned: Callable[[int], None] | None = None,
    ) -> None:
        self.stop = threading.Event()
        self.wake = wake if wake is not None else threading.Event()  # the embedded queue's
        # ``planned``: told each run a worker planned (default: wake this pool's workers).
        self.workers = [
            Worker(engine, storage, settings, wake=self.wake, planned=planned)
            for _ in range(max(0, n))
        ]
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        if self.workers:
            # Work left by a previous incarnation of this process is picked up at once.
            self.workers[0].reap(stale_seconds=self.workers[0].settings.heartbeat_seconds * 3)
        for i, worker in enumerate(self.workers):
            t = threading.Thread(target=worker.run, args=(self.stop,), name=f"worker-{i}")
            t.daemon = True
            t.start()
            self.threads.append(t)

    def notify(self) -> None:
        self.wake.set()

    def shutdown(self, timeout: float = 10.0) -> None:
        self.stop.set()
        self.wake.set()
        for t in self.threads:
            t.join(timeout)
