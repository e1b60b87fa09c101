"""Limits that keep one client from exhausting the server.

- :class:`BodySizeLimit` (ASGI middleware): a request body larger than ``max_body_bytes``
  answers 413 with a Canvas-style body, whether the size is declared in Content-Length or only
  discovered while reading a chunked body. SIS import uploads (``POST .../sis_imports`` and
  the Reports page's ``POST /accounts/:id/sis_import``) are held to ``sis_import_max_bytes``
  instead (plus 1 MiB of form overhead).
- :func:`check_start_limits`: starting a report is refused with 429 and ``Retry-After`` when
  the token has used up its rate (``report_start_rate`` per minute, bursts of
  ``report_start_burst``), or when the account already has ``max_queued_runs`` runs created
  or running. The queue count is read once here (cheap refusals) and again, atomically with
  the insert, by :func:`reportcard.runs.start.start_run`.

The rate limit is a token bucket per access token **in each server process** (memory, not the
database): it costs nothing per request and needs no write; with N API processes a client can
reach N times the rate, which still bounds it. The queue limit counts rows in the database and
so holds across processes.
"""

from __future__ import annotations

import math
import re
import threading
import time
from typing import Any

import orjson
from sqlalchemy import Engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reportcard import audit
from reportcard.db.engine import read_conn
from reportcard.ids import is_id
from reportcard.runs.start import QueueFull, active_runs
from reportcard.service.errors import CanvasError
from reportcard.settings import Settings

# The SIS import API and the Reports page's SIS upload form.
_SIS_UPLOAD = re.compile(r"^(?:/api/v1/accounts/[^/]+/sis_imports|/accounts/[^/]+/sis_import)/?$")
_FORM_OVERHEAD = 1 << 20


def too_large_body(limit: int) -> bytes:
    message = f"The request body is larger than the limit of {limit} bytes."
    return orjson.dumps({"errors": [{"message": message}]})


class _TooLarge(Exception):
    pass


class BodySizeLimit:
    """413 for request bodies over the limit, before the application reads them whole."""

    def __init__(self, app: ASGIApp, max_bytes: int, upload_max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_max_bytes = upload_max_bytes + _FORM_OVERHEAD

    def limit_for(self, scope: Scope) -> int:
        if scope["method"] == "POST" and _SIS_UPLOAD.match(scope["path"]):
            return self.upload_max_bytes
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        for key, value in scope["headers"]:
            if key == b"content-length":
                declared = value.decode("latin-1").strip()
                if not is_id(declared) or int(declared) > limit:
                    await self.refuse(send, limit)
                    return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self.refuse(send, limit)

    async def refuse(self, send: Send, limit: int) -> None:
        body = too_large_body(limit)
        headers = [
            (b"content-type", b"application/json; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class TokenBuckets:
    """Per-key token buckets: ``rate`` per minute, holding at most ``burst``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[Any, tuple[float, float]] = {}

    def take(self, key: Any, rate: float, burst: int, now: float | None = None) -> float:
        """0.0 when one unit was taken, else the seconds until one is available."""
        now = time.monotonic() if now is None else now
        per_second = rate / 60.0
        with self._lock:
            level, then = self._buckets.get(key, (float(burst), now))
            level = min(float(burst), level + (now - then) * per_second)
            if level >= 1.0:
                self._buckets[key] = (level - 1.0, now)
                if len(self._buckets) > 100_000:
                    self._forget_full(now, per_second, burst)
                return 0.0
            self._buckets[key] = (level, now)
            return (1.0 - level) / per_second

    def _forget_full(self, now: float, per_second: float, burst: int) -> None:
        for key, (level, then) in list(self._buckets.items()):
            if level + (now - then) * per_second >= burst:
                del self._buckets[key]

    def clear(self) -> None:
        with self._lock:
            self._buckets.clear()


START_BUCKETS = TokenBuckets()


def _too_many(message: str, retry_after: float) -> CanvasError:
    seconds = max(1, math.ceil(retry_after))
    return CanvasError(
        429,
        {"errors": [{"message": message}]},
        {"Retry-After": str(seconds)},
    )


def queue_refused(
    engine: Engine, full: QueueFull, account: Any, user: Any, ip: str | None = None
) -> CanvasError:
    """Record a refusal for a full queue in the audit log; the 429 to raise.

    Call it outside any write transaction (the record has a transaction of its own).
    """
    audit.record_now(
        engine,
        action="limit.queue",
        user_id=user.id,
        account_id=int(account.id),
        detail={"queued": full.queued, "limit": full.limit},
        ip=ip,
    )
    return queue_full_error(full)


def queue_full_error(full: QueueFull) -> CanvasError:
    """The 429 for a full queue."""
    return _too_many(
        f"This account already has {full.queued} reports waiting or running "
        f"(the limit is {full.limit}); try again when some have finished.",
        60,
    )


def check_start_limits(
    engine: Engine, settings: Settings, account: Any, user: Any, ip: str | None = None
) -> None:
    """Raise 429 when this token may not start another report now, or the queue is full.

    Call it after authorization and before creating the run, outside a write transaction (a
    refusal is recorded in the audit log in a transaction of its own).
    """
    if settings.max_queued_runs > 0:
        # A first look, outside any write: most refusals cost no lock. The check that holds
        # under concurrent starts is repeated atomically with the insert (runs.start).
        with read_conn(engine) as conn:
            queued = active_runs(conn, int(account.id))
        if queued >= settings.max_queued_runs:
            full = QueueFull(queued, settings.max_queued_runs)
            raise queue_refused(engine, full, account, user, ip)
    if settings.report_start_rate > 0:
        # Keyed by database too: one process may serve several (tests, embedded tools).
        who = ("token", user.token_id) if user.token_id is not None else ("user", user.id)
        key = (engine.url.render_as_string(hide_password=True), *who)
        wait = START_BUCKETS.take(key, settings.report_start_rate, settings.report_start_burst)
        if wait > 0:
            audit.record_now(
                engine,
                action="limit.rate",
                user_id=user.id,
                account_id=int(account.id),
                detail={"token_id": user.token_id, "retry_after": math.ceil(wait)},
                ip=ip,
            )
            raise _too_many(
                "Too many reports started with this token; "
                f"try again in {max(1, math.ceil(wait))} seconds.",
                wait,
            )
