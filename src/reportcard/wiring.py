"""The one place reportcard is wired: which packages install into the runtime, and in what order.

The server (:func:`reportcard.app.create_app`), the command line and the Celery worker build
their runtime here. Each feature package has one ``install(hooks)`` function (compare
warehouse's ``includeme``): the run engine's own jobs (retention, the time limit), delivery
(schedule deliveries, webhooks, mail and their jobs), SIS imports (work for every worker, the
work-directory sweep) and the Reports page (the session sweep). Nothing below this module names
a module above it, by import or by string.
"""

from __future__ import annotations

from sqlalchemy import Engine

from reportcard import lms, notify, runs, web
from reportcard.runs.hooks import Hooks
from reportcard.runtime import Install, Runtime, build_runtime
from reportcard.settings import Settings
from reportcard.storage.base import Storage

# In this order: it is the order of the run-ended listeners and of the periodic jobs.
INSTALLS: tuple[Install, ...] = (notify.install, runs.install, lms.install, web.install)


def build(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    storage: Storage | None = None,
) -> Runtime:
    """The process's runtime, every package installed."""
    return build_runtime(settings, INSTALLS, engine=engine, storage=storage)


def hooks() -> Hooks:
    """Every package's hooks, for an engine made outside a runtime (``Hooks.bind`` it)."""
    h = Hooks()
    for install in INSTALLS:
        install(h)
    return h
