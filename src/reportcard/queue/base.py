"""The queue interface: what the rest of reportcard tells the queue, and when.

The database is the source of truth for every run: a queue only carries the news that there is
work ("plan run N", "execute shard N"), so a lost message delays a report and never loses it
(the reaper republishes). Each event is told after the transaction that made it has committed.
"""

from __future__ import annotations

from typing import Protocol


class Queue(Protocol):
    """How work reaches workers (``embedded`` threads, or Celery)."""

    def run_created(self, run_id: int) -> None:
        """A run was committed in ``created``: a worker should claim and plan it."""
        ...

    def shards_planned(self, run_id: int) -> None:
        """The run's shards were committed ``queued`` (planned, or one given another try)."""
        ...
