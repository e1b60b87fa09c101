"""How work reaches workers: the embedded database-polling pool, or Celery for scale-out.

``queue_for`` builds the configured one behind the ``Queue`` interface (``queue.base``).
"""

from __future__ import annotations

import threading

from sqlalchemy import Engine

from reportcard.queue.base import Queue
from reportcard.queue.embedded import EmbeddedQueue
from reportcard.settings import Settings


def queue_for(settings: Settings, engine: Engine, wake: threading.Event | None = None) -> Queue:
    """The queue ``settings.queue`` names; ``wake`` is the embedded workers' event, if any."""
    if settings.queue == "celery":
        from reportcard.queue.celery_app import CeleryQueue

        return CeleryQueue(engine, settings)  # its own Celery app (``make_celery``)
    return EmbeddedQueue(wake)


__all__ = ["EmbeddedQueue", "Queue", "queue_for"]
