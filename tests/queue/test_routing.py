"""Queue routing: a run's size decides the Celery queue of its shards."""

from __future__ import annotations

from reportcard.queue.routing import queue_name, shard_lane
from reportcard.settings import Settings


def test_runs_at_or_over_the_long_report_rows_go_to_the_long_lane() -> None:
    settings = Settings(long_report_rows=1000, queue_prefix="rc")
    assert shard_lane(999, settings) == "short"
    assert shard_lane(1000, settings) == "long"
    assert shard_lane(None, settings) == "short"  # not planned yet
    assert queue_name(settings, "long") == "rc.long"
