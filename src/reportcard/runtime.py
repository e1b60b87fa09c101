"""The runtime: what one process of reportcard works with, built once from the settings.

``create_app`` (the server), the command line and the Celery worker all build it the same way,
through :func:`reportcard.wiring.build` (which names the packages that install into it):

- ``settings``: the typed settings, the only place configuration is read;
- ``engine``: the database, with the hooks bound to it (:mod:`reportcard.runs.hooks`);
- ``storage``: where files live (the backend the settings name, made on first use);
- ``hooks``: run-ended listeners, periodic jobs and other work the packages installed;
- ``links``: the signer of download links (``link_secret``, ``download_link_seconds``);
- ``reports``: the report catalog (the built-in reports and ``REPORTCARD_EXTRA_REPORT_MODULES``);
- ``queue``: how work reaches workers (``reportcard.queue``: the embedded workers' wake-up
  event, or Celery);
- ``pool``: the embedded worker threads, while a server runs them.

:meth:`Runtime.run_created` is the one place a new run is announced to the queue, after the
transaction that created it has committed: the embedded workers are woken, Celery is sent a
"plan run N" message. Everything that creates runs (the API, the Reports page, the schedule
dispatcher, the command line) goes through it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping

from sqlalchemy import Engine

from reportcard.auth.links import LinkSigner
from reportcard.db.engine import make_engine
from reportcard.queue import EmbeddedQueue, Queue, WakeListener, queue_for, wakes_across_processes
from reportcard.reports.catalog import Report, all_reports, load_extra_reports
from reportcard.runs.hooks import Hooks
from reportcard.runs.worker import WorkerPool
from reportcard.settings import Settings, get_settings
from reportcard.storage import storage_from_settings
from reportcard.storage.base import Storage

Install = Callable[[Hooks], None]


class Runtime:
    """One process's settings, engine, storage, hooks and (while serving) worker pool."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        storage: Storage | None = None,
        hooks: Hooks | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self._storage = storage
        self.hooks = hooks if hooks is not None else Hooks()
        self.links = LinkSigner.from_settings(settings)  # signed download links
        self.wakeup = threading.Event()  # what the embedded workers wait on between polls
        self.queue: Queue = queue_for(settings, engine, self.wakeup)
        self.pool: WorkerPool | None = None
        self.listener: WakeListener | None = None  # other processes' news, while a pool runs

    @property
    def storage(self) -> Storage:
        """The storage the settings name, made on first use (``ValueError``: bad settings)."""
        if self._storage is None:
            self._storage = storage_from_settings(self.settings)
        return self._storage

    @property
    def reports(self) -> Mapping[str, Report]:
        """The report catalog, by report type."""
        return all_reports()

    def start_pool(self, threads: int) -> WorkerPool:
        """Start ``threads`` embedded worker threads (the embedded queue), and on PostgreSQL
        the connection listening for work other processes create (``queue.pgwake``)."""
        if self.pool is None:
            # The shards a worker planned are news for every process's workers.
            queue = self.queue
            planned = queue.shards_planned if isinstance(queue, EmbeddedQueue) else None
            self.pool = WorkerPool(
                self.engine,
                self.storage,
                self.settings,
                threads,
                wake=self.wakeup,
                planned=planned,
            )
        if (
            self.listener is None
            and threads > 0
            and wakes_across_processes(self.settings, self.engine)
        ):
            self.listener = WakeListener(self.engine, self.wakeup)
            self.listener.start()
        self.pool.start()
        return self.pool

    def stop_pool(self) -> None:
        """Stop the worker threads and the listening connection (closed)."""
        if self.pool is not None:
            self.pool.shutdown()
        if self.listener is not None:
            self.listener.stop()
            self.listener = None

    def wake(self) -> None:
        """Wake the embedded workers, of every process on PostgreSQL (a run was aborted, an
        import was queued, ...)."""
        self.wakeup.set()
        if isinstance(self.queue, EmbeddedQueue):
            self.queue.tell_others()

    def run_created(self, run_id: int) -> None:
        """Tell the queue that run ``run_id`` exists; call after its transaction committed."""
        self.queue.run_created(run_id)


def build_runtime(
    settings: Settings | None = None,
    installs: Iterable[Install] = (),
    *,
    engine: Engine | None = None,
    storage: Storage | None = None,
) -> Runtime:
    """The runtime for ``settings``: ``installs`` add their parts to its hooks, in order."""
    settings = settings or get_settings()
    engine = engine or make_engine(settings.resolved_database_url)
    load_extra_reports(settings)
    runtime = Runtime(settings=settings, engine=engine, storage=storage)
    for install in installs:
        install(runtime.hooks)
    runtime.hooks.created.append(runtime.run_created)
    runtime.hooks.bind(engine)
    return runtime
