"""Run-ended events: listeners that act in the same transaction as a run's final transition.

A listener writes what must happen later (an email in the outbox, a webhook delivery, a
schedule's bookkeeping) as rows in the same transaction that moves the run to ``complete`` or
``error``; so the event is never lost and never recorded for a transition that rolled back.
Delivery happens afterwards, in the periodic jobs of :mod:`reportcard.runs.housekeeping`.

The listeners are those the runtime installed (:mod:`reportcard.runs.hooks`), found through
the connection's engine.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from reportcard.db.tables import account_reports
from reportcard.runs.hooks import RunEndedListener, hooks_of

__all__ = ["RunEndedListener", "run_ended"]


def run_ended(conn: Connection, run_id: int) -> None:
    """Tell every listener that run ``run_id`` just reached a final state in ``conn``'s txn."""
    listeners = list(hooks_of(conn).listeners)
    if not listeners:
        return
    run = conn.execute(select(account_reports).where(account_reports.c.id == run_id)).first()
    if run is None:
        return
    for listener in listeners:
        listener(conn, run)
