"""The embedded queue: workers poll the run and shard tables; an event only wakes them early.

Worker threads in the server process (``reportcard.runs.worker.WorkerPool``), or in a separate
``reportcard worker`` process, find created runs and queued shards by querying the database, in
the order the shards' ``priority`` gives. Telling this queue about an event sets the event the
local workers wait on, so they look at once instead of at their next poll. On PostgreSQL it
also sends a notification (``reportcard.queue.pgwake``) that wakes the workers of every other
process; on SQLite (or with ``pg_notify`` off) those find the work at their next poll
(``poll_seconds``).
"""

from __future__ import annotations

import threading

from sqlalchemy import Engine

from reportcard.queue.pgwake import send_wake


class EmbeddedQueue:
    """Wakes the workers waiting on ``wake`` (a new one when not given), and, given ``notify``
    (an engine), those of the other processes listening on its database."""

    def __init__(self, wake: threading.Event | None = None, notify: Engine | None = None) -> None:
        self.wake = wake if wake is not None else threading.Event()
        self.notify = notify

    def run_created(self, run_id: int) -> None:
        self.wake.set()
        self.tell_others()

    def shards_planned(self, run_id: int) -> None:
        self.wake.set()
        self.tell_others()

    def tell_others(self) -> None:
        """Wake the workers of other processes (PostgreSQL's NOTIFY), if this queue may."""
        if self.notify is not None:
            send_wake(self.notify)
