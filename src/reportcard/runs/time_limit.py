"""The maximum report run time: a periodic job ends runs executing past ``max_run_seconds``.

Every worker process runs it (``reportcard.runs.housekeeping``) about once a minute. A run is
measured from ``start_at`` (when a worker began it), so time spent waiting in the queue does
not count. The run ends in ``error`` through :func:`reportcard.runs.lifecycle.fail_run`, which
cancels its shards (a worker holding one stops at its next heartbeat) and fires the run-ended
listeners; several processes may race, and the conditional UPDATE lets only one win.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, select

from reportcard.db.tables import account_reports
from reportcard.runs.hooks import Hooks
from reportcard.runs.lifecycle import ACTIVE_STATES, fail_run
from reportcard.settings import Settings
from reportcard.storage.base import Storage


def describe(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        hours = int(seconds // 3600)
        return f"{hours} hour" + ("s" if hours != 1 else "")
    if seconds >= 60 and seconds % 60 == 0:
        minutes = int(seconds // 60)
        return f"{minutes} minute" + ("s" if minutes != 1 else "")
    return f"{seconds:g} seconds"


def end_overdue_runs(engine: Engine, storage: Storage, settings: Settings, now: datetime) -> int:
    """Fail every run that has been executing longer than ``max_run_seconds``."""
    limit = settings.max_run_seconds
    if limit <= 0:
        return 0
    cutoff = now - timedelta(seconds=limit)
    r = account_reports.c
    with engine.connect() as conn:
        overdue = [
            int(i)
            for i in conn.execute(
                select(r.id).where(
                    r.workflow_state.in_(ACTIVE_STATES),
                    r.start_at.is_not(None),
                    r.start_at < cutoff,
                )
            ).scalars()
        ]
    text = (
        f"The report ran longer than the limit of {describe(limit)} and was stopped. "
        "Try a narrower report (a term, a sub-account) or ask an administrator."
    )
    ended = 0
    for run_id in overdue:
        with engine.begin() as conn:
            if fail_run(conn, run_id, text, now=now):
                ended += 1
    return ended


def install(hooks: Hooks) -> None:
    hooks.every("runs.time_limit", lambda s: 60.0, end_overdue_runs)
