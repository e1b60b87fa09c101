"""How work reaches workers: the embedded database-polling pool, or Celery for scale-out."""
