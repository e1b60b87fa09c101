"""The embedded queue: workers poll the run and shard tables; an event only wakes them early.

Worker threads in the server process (``reportcard.runs.worker.WorkerPool``), or in a separate
``reportcard worker`` process, find created runs and queued shards by querying the database, in
the order the shards' ``priority`` gives. Telling this queue about an event sets the event the
local workers wait on, so they look at once instead of at their next poll; workers in another
process find the work at their next poll (``poll_seconds``).
"""

from __future__ import annotations

import threading


class EmbeddedQueue:
    """Wakes the workers waiting on ``wake`` (a new one when not given)."""

    def __init__(self, wake: threading.Event | None = None) -> None:
        self.wake = wake if wake is not None else threading.Event()

    def run_created(self, run_id: int) -> None:
        self.wake.set()

    def shards_planned(self, run_id: int) -> None:
        self.wake.set()
