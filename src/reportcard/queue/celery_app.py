"""Celery as the distributed queue (Redis or RabbitMQ): messages say "plan run N" or "execute
shard N"; the database stays the source of truth.

Each runtime builds its own Celery app (:func:`make_celery`, the app-factory pattern): the
app carries that runtime's broker settings, and its ``reportcard.plan`` and
``reportcard.shard`` tasks are closures over a worker on that runtime's engine. Nothing about
the configuration lives in this module.

Every task is idempotent: it first claims its run or shard with a conditional UPDATE and does
nothing if someone else holds it, so a message delivered twice is harmless. Tasks are acked
late and rejected when their worker is lost, with a prefetch of one. A message that is lost
all the same is recovered by the reaper: every worker process republishes work that has sat
queued too long and requeues shards whose heartbeat stopped.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any

from celery import Celery
from sqlalchemy import Engine, func, select, update

from reportcard.clock import utcnow
from reportcard.db.tables import account_reports, report_shards
from reportcard.queue.routing import Lane, queue_name, shard_lane
from reportcard.runs.execute import claim_shard
from reportcard.runs.lifecycle import get_run
from reportcard.runs.plan import claim_run
from reportcard.runs.warmup import freeze_heap, warm_up
from reportcard.runs.worker import Worker, new_worker_id
from reportcard.settings import Settings
from reportcard.storage import storage_from_settings

log = logging.getLogger(__name__)


def celery_config(settings: Settings) -> dict[str, Any]:
    """The app's configuration: the broker, with the delivery guarantees we rely on."""
    return dict(
        broker_url=settings.broker_url,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=queue_name(settings, "short"),
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=2,
        broker_transport_options=(
            {"visibility_timeout": 3600, "max_retries": 1}
            if settings.broker_url.startswith("redis")
            else {"max_retries": 1}
        ),
        worker_hijack_root_logger=False,
        worker_cancel_long_running_tasks_on_connection_loss=True,
    )


class CeleryBinding:
    """One runtime's Celery app, its tasks and the worker they run on.

    Kombu keeps connection and producer pools in process-wide registries keyed by broker URL,
    so apps of one process naming the same broker share a pool. An app here never closes or
    resets them (that would hand a closed pool to the other apps: "Acquire on closed pool");
    each app only keeps its own references, dropped with the app.
    """

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self.app = Celery("reportcard", set_as_current=False)
        self.app.conf.update(celery_config(settings))
        self._worker: Worker | None = None
        self._worker_lock = threading.Lock()

        # shared=False: the tasks belong to this app only, never to apps made later.
        @self.app.task(name="reportcard.plan", shared=False)
        def plan_task(run_id: int) -> None:
            self.plan(run_id)

        @self.app.task(name="reportcard.shard", shared=False)
        def shard_task(shard_id: int) -> None:
            self.shard(shard_id)

        self.plan_task = plan_task
        self.shard_task = shard_task

    # ------------------------------------------------------------------ the worker side
    @property
    def worker(self) -> Worker:
        """The worker the tasks run on (made on first use: the storage is opened lazily)."""
        with self._worker_lock:
            if self._worker is None:
                self._worker = Worker(
                    self.engine,
                    storage_from_settings(self.settings),
                    self.settings,
                    worker_id=new_worker_id(),
                    planned=self.publish_shards,
                )
            return self._worker

    def lane_queue(self, lane: Lane) -> str:
        """The broker queue of ``lane`` under the configured prefix (``<prefix>.<lane>``)."""
        return queue_name(self.settings, lane)

    def plan(self, run_id: int) -> None:
        """The ``reportcard.plan`` task: claim run ``run_id`` and plan it."""
        w = self.worker
        with w.engine.begin() as conn:
            run = get_run(conn, run_id)
            if run is None or run.workflow_state != "created":
                return
            claimed = claim_run(
                conn, run_id, run.root_account_id, w.settings.concurrency_per_root, w.worker_id
            )
        if not claimed:
            # The root account is at its cap: the run waits in `created` until a run of the
            # same root ends (its worker publishes the next one) or the reaper republishes it.
            return
        if w.plan(run_id):  # heartbeat while planning; backs off if the run was re-planned
            w.planned(run_id)
        self._release_if_ended(run_id)

    def shard(self, shard_id: int) -> None:
        """The ``reportcard.shard`` task: claim shard ``shard_id`` and execute it."""
        w = self.worker
        with w.engine.begin() as conn:
            if not claim_shard(conn, shard_id, w.worker_id):
                return  # done, running elsewhere, or cancelled: a duplicate message
            run_id = conn.execute(
                select(report_shards.c.report_id).where(report_shards.c.id == shard_id)
            ).scalar_one()
        w.run_shard(shard_id, run_id)
        with w.engine.connect() as conn:
            state = conn.execute(
                select(report_shards.c.state).where(report_shards.c.id == shard_id)
            ).scalar_one()
            conn.rollback()
        if state == "queued":  # failed and given another attempt
            w.planned(run_id)
        self._release_if_ended(run_id)

    def _release_if_ended(self, run_id: int) -> None:
        """When ``run_id`` has ended, offer its root account's freed slot to waiting runs."""
        with self.engine.connect() as conn:
            run = get_run(conn, run_id)
            if run.workflow_state in ("created", "running", "compiling"):
                conn.rollback()
                return
            waiting = (
                conn.execute(
                    select(account_reports.c.id)
                    .where(
                        account_reports.c.root_account_id == run.root_account_id,
                        account_reports.c.workflow_state == "created",
                    )
                    .order_by(account_reports.c.id)
                    .limit(self.settings.concurrency_per_root)
                )
                .scalars()
                .all()
            )
            conn.rollback()
        for waiting_id in waiting:
            self.publish_plan(waiting_id)

    # ------------------------------------------------------------------ publishing
    def publish_plan(self, run_id: int, connection: Any = None) -> bool:
        """Ask a worker to plan ``run_id``; False (logged, not raised) when the broker is down.

        The run is already committed in ``created``: a worker's reaper republishes it later,
        so a broker outage delays a report but never loses it.
        """
        try:
            self.plan_task.apply_async(
                (run_id,),
                queue=self.lane_queue("short"),
                connection=connection,
                retry=True,
                retry_policy={"max_retries": 1, "interval_start": 0, "interval_step": 0.5},
            )
            return True
        except Exception:
            log.warning("could not publish run %s; the reaper will", run_id, exc_info=True)
            return False

    def publish_shards(self, run_id: int) -> None:
        """Publish the run's queued shards in their ``priority`` order, to the run's lane.

        A broker hands a queue's messages out in the order they were published, so the order
        of the messages is the order the plan chose (``reportcard.runs.priority``).
        """
        with self.engine.connect() as conn:
            run = get_run(conn, run_id)
            ids = (
                conn.execute(
                    select(report_shards.c.id)
                    .where(report_shards.c.report_id == run_id, report_shards.c.state == "queued")
                    .order_by(report_shards.c.priority)
                )
                .scalars()
                .all()
            )
            conn.rollback()
        queue = self.lane_queue(shard_lane(run.total_lines, self.settings))
        for shard_id in ids:
            self.shard_task.apply_async((shard_id,), queue=queue)

    def republish(
        self, runs: list[int], shards: list[tuple[int, Lane]], connection: Any = None
    ) -> None:
        """Publish again what ``stale_work`` found: plans, and shards to their run's lane."""
        for run_id in runs:
            self.publish_plan(run_id, connection)
        for shard_id, lane in shards:
            self.shard_task.apply_async(
                (shard_id,), queue=self.lane_queue(lane), connection=connection
            )

    # ------------------------------------------------------------------ the worker process
    def reaper(self, stop: threading.Event, every: float) -> None:
        """Requeue lost shards and republish stale messages until ``stop`` is set."""
        w = self.worker
        while not stop.wait(every):
            try:
                w.reap()
                w.other_work()  # SIS imports run from the database queue in every process
                w.housekeep()
                runs, shards = stale_work(w)
                if runs or shards:
                    # Its own broker connection: AMQP connections must not be shared by threads.
                    with self.app.connection_for_write() as connection:
                        self.republish(runs, shards, connection)
            except Exception:
                log.exception("reaper pass failed")

    def run_worker(self, concurrency: int, queues: list[str]) -> None:
        """``reportcard worker --queue celery``: a Celery worker plus this process's reaper."""
        stop = threading.Event()
        reaper = threading.Thread(
            target=self.reaper, args=(stop, self.settings.heartbeat_seconds), daemon=True
        )
        reaper.start()
        warm_up(self.engine)  # before the first task, not in it
        freeze_heap()
        argv: list[Any] = [
            "worker",
            "--loglevel=WARNING",
            f"--concurrency={concurrency}",
            "--pool=threads",
            f"--queues={','.join(queues)}",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            f"--hostname=reportcard-{new_worker_id()}@%h",
        ]
        self.app.set_current()  # the worker process's one app, as Celery's worker expects
        try:
            self.app.worker_main(argv)
        finally:
            stop.set()


def make_celery(settings: Settings, engine: Engine) -> CeleryBinding:
    """The Celery app of the runtime with ``settings`` and ``engine``, its tasks registered."""
    return CeleryBinding(settings, engine)


def stale_work(worker: Worker) -> tuple[list[int], list[tuple[int, Lane]]]:
    """Created runs, and queued shards with their lane, that waited past the stale limit
    (marked as republished); the shards in the order workers should take them."""
    cutoff = utcnow() - timedelta(seconds=worker.settings.stale_seconds)
    now = utcnow()
    r, s = account_reports.c, report_shards.c
    with worker.engine.begin() as conn:
        runs = list(
            conn.execute(
                select(r.id).where(
                    r.workflow_state == "created",
                    func.coalesce(r.heartbeat_at, r.created_at) < cutoff,
                )
            ).scalars()
        )
        shards = [
            (int(shard_id), shard_lane(total_lines, worker.settings))
            for shard_id, total_lines in conn.execute(
                select(s.id, r.total_lines)
                .join(account_reports, r.id == s.report_id)
                .where(
                    s.state == "queued",
                    r.workflow_state == "running",
                    s.heartbeat_at.is_(None) | (s.heartbeat_at < cutoff),
                )
                .order_by(s.report_id, s.priority)
            )
        ]
        if runs:
            conn.execute(update(account_reports).where(r.id.in_(runs)).values(heartbeat_at=now))
        if shards:
            ids = [shard_id for shard_id, _ in shards]
            conn.execute(update(report_shards).where(s.id.in_(ids)).values(heartbeat_at=now))
    return runs, shards


class CeleryQueue:
    """The ``Queue`` interface (``reportcard.queue.base``) over a runtime's Celery app."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self.celery = make_celery(settings, engine)

    def run_created(self, run_id: int) -> None:
        self.celery.publish_plan(run_id)

    def shards_planned(self, run_id: int) -> None:
        self.celery.publish_shards(run_id)
