"""Queue routing: which Celery queue a run's shards go to.

Two queues, ``<prefix>.short`` and ``<prefix>.long``: a run planned with ``long_report_rows`` or
more estimated rows sends its shards to the long one, so that workers consuming only the short
queue keep small reports quick while a huge export runs. Plan messages always go to the short
queue (a plan is a few bounds queries, whatever the report).
"""

from __future__ import annotations

from typing import Literal

from reportcard.settings import Settings

Lane = Literal["short", "long"]


def shard_lane(total_lines: int | None, settings: Settings) -> Lane:
    """The queue for the shards of a run planned with ``total_lines`` estimated rows."""
    return "long" if (total_lines or 0) >= settings.long_report_rows else "short"


def queue_name(settings: Settings, lane: Lane) -> str:
    """The broker queue of ``lane``: ``<queue_prefix>.<lane>``."""
    return f"{settings.queue_prefix}.{lane}"
