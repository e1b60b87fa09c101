"""Run-ended events: listeners that act in the same transaction as a run's final transition.

A listener writes what must happen later (an email in the outbox, a webhook delivery, a
schedule's bookkeeping) as rows in the same transaction that moves the run to ``complete`` or
``error``; so the event is never lost and never recorded for a transition that rolled back.
Delivery happens afterwards, in the periodic jobs of :mod:`reportcard.runs.housekeeping`.

Modules in :data:`LISTENER_MODULES` register their listeners with :func:`on_run_ended` when
imported; they are imported the first time an event fires.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, select

from reportcard.db.tables import account_reports

# A listener gets the connection (inside the transition's transaction) and the run row as it
# is after the transition (workflow_state is "complete" or "error").
RunEndedListener = Callable[[Connection, Any], None]

LISTENER_MODULES: list[str] = [
    "reportcard.notify.schedule_delivery",
    "reportcard.notify.webhooks",
    "reportcard.notify.mail",
]

_listeners: list[RunEndedListener] = []
_loaded = False
_lock = threading.Lock()


def on_run_ended(fn: RunEndedListener) -> RunEndedListener:
    """Register ``fn`` (usable as a decorator)."""
    if fn not in _listeners:
        _listeners.append(fn)
    return fn


def _load() -> None:
    global _loaded
    with _lock:
        if _loaded:
            return
        for name in LISTENER_MODULES:
            importlib.import_module(name)
        _loaded = True


def run_ended(conn: Connection, run_id: int) -> None:
    """Tell every listener that run ``run_id`` just reached a final state in ``conn``'s txn."""
    _load()
    if not _listeners:
        return
    run = conn.execute(select(account_reports).where(account_reports.c.id == run_id)).first()
    if run is None:
        return
    for listener in list(_listeners):
        listener(conn, run)
