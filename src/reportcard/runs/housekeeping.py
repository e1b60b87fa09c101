"""Periodic jobs that every worker process runs between units of work.

Mail delivery, the schedule dispatcher, webhook deliveries, the retention sweep and the other
sweeps are installed by their packages (:mod:`reportcard.runs.hooks`, wired in
:mod:`reportcard.runtime`); the embedded worker pool and each Celery worker's reaper thread call
:func:`run_due`. Several processes may run the same job at once, so each job must be safe
under concurrency (claim rows with a conditional UPDATE, as the reaper does).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

from sqlalchemy import Engine

from reportcard.clock import utcnow
from reportcard.runs.hooks import Interval, Job, hooks_of
from reportcard.settings import Settings
from reportcard.storage.base import Storage

__all__ = ["Interval", "Job", "run_all", "run_due"]

log = logging.getLogger(__name__)


def run_due(
    engine: Engine, storage: Storage, settings: Settings, now: datetime | None = None
) -> int:
    """Run every job whose interval has passed in this process; returns the items handled.

    A failing job is logged and retried at its next interval; it never stops the worker.
    """
    hooks = hooks_of(engine)
    handled = 0
    for entry in list(hooks.jobs.values()):
        with hooks.lock:
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
    handled = 0
    for entry in list(hooks_of(engine).jobs.values()):
        entry.last = time.monotonic()
        handled += entry.job(engine, storage, settings, now or utcnow())
    return handled
