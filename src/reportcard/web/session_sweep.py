"""Housekeeping: delete ended Reports page sessions once an hour (every worker process)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from reportcard.runs.hooks import Hooks
from reportcard.settings import Settings
from reportcard.storage.base import Storage
from reportcard.web.sessions import purge_expired

EVERY_SECONDS = 3600.0


def sweep(engine: Engine, storage: Storage, settings: Settings, now: datetime) -> int:
    with engine.begin() as conn:
        return purge_expired(conn, now)


def install(hooks: Hooks) -> None:
    hooks.every("web_sessions", lambda settings: EVERY_SECONDS, sweep)
