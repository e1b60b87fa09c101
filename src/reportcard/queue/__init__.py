"""How work reaches workers: the embedded database-polling pool, or Celery for scale-out.

``queue_for`` builds the configured one behind the ``Queue`` interface (``queue.base``).
"""

from __future__ import annotations

import threading

from sqlalchemy import Engine

from reportcard.queue.base import Queue
from reportcard.queue.embedded import EmbeddedQueue
from reportcard.queue.pgwake import WakeListener, wakes_across_processes
from reportcard.settings import Settings


def queue_for(settings: Settings, engine: Engine, wake: threading.Event | None = None) -> Queue:
    """The queue ``settings.queue`` names; ``wake`` is the embedded workers' event, if any."""
    if settings.queue == "celery":
        from reportcard.queue.celery_app import CeleryQueue

        return CeleryQueue(engine, settings)  # its own Celery app (``make_celery``)
    return EmbeddedQueue(wake, engine if wakes_across_processes(settings, engine) else None)


__all__ = ["EmbeddedQueue", "Queue", "WakeListener", "queue_for", "wakes_across_processes"]
