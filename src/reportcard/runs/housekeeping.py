"""Periodic jobs that every worker process runs between units of work.

Mail delivery, the schedule dispatcher, webhook deliveries and the retention sweep register
here with :func:`register`; the embedded worker pool and each Celery worker's reaper thread
call :func:`run_due`. Several processes may run the same job at once, so each job must be safe
under concurrency (claim rows with a conditional UPDATE, as the reaper does).

Modules in :data:`JOB_MODULES` are imported on the first call of :func:`run_due`.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine

from reportcard.clock import utcnow
from reportcard.settings import Settings
from reportcard.storage.base import Storage

log = logging.getLogger(__name__)

# job(engine, storage, settings, now) -> how many items it handled
Job = Callable[[Engine, Storage, Settings, datetime], int]
# every(settings) -> seconds between two runs of the job in one process
Interval = Callable[[Settings], float]

JOB_MODULES: list[str] = [
    "reportcard.notify.dispatcher",
    "reportcard.notify.webhooks",
    "reportcard.notify.mail",
    "reportcard.runs.retention",
    "reportcard.runs.time_limit",
    "reportcard.lms.sis_import.workdirs",
    "reportcard.web.session_sweep",
]


@dataclass
class _Entry:
    name: str
    every: Interval
    job: Job
    last: float = field(default=float("-inf"))


_jobs: dict[str, _Entry] = {}
_loaded = False
_lock = threading.Lock()


def register(name: str, every: Interval, job: Job) -> None:
    """Run ``job`` about every ``every(settings)`` seconds in each worker process."""
    _jobs.setdefault(name, _Entry(name, every, job))


def _load() -> None:
    global _loaded
    with _lock:
        if _loaded:
            return
        for name in JOB_MODULES:
            importlib.import_module(name)
        _loaded = True


def run_due(
    engine: Engine, storage: Storage, settings: Settings, now: datetime | None = None
) -> int:
    """Run every job whose interval has passed in this process; returns the items handled.

    A failing job is logged and retried at its next interval; it never stops the worker.
    """
    _load()
    handled = 0
    for entry in list(_jobs.values()):
        with _lock:
            mono = time.monotonic()
            if mono - entry.last < entry.every(settings):
                continue
            entry.last = mono
        try:
            handled += entry.job(engine, storage, settings, now or utcnow())
        except Exception:
            log.exception("periodic job %s failed", entry.name)
    return handled


def run_all(
    engine: Engine, storage: Storage, settings: Settings, now: datetime | None = None
) -> int:
    """Run every job once now, whatever its interval (tests and `reportcard housekeeping`)."""
    _load()
    handled = 0
    for entry in list(_jobs.values()):
        entry.last = time.monotonic()
        handled += entry.job(engine, storage, settings, now or utcnow())
    return handled
