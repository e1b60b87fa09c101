"""Every error the API answers leaves as Canvas-shaped JSON (bodies: reportcard.service.errors)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from reportcard.db.busy import is_unavailable
from reportcard.service.errors import (
    INTERNAL_ERROR,
    NOT_FOUND,
    TOO_DEEP,
    UNSTORABLE,
    CanvasError,
    database_busy,
    json_response,
)

log = logging.getLogger(__name__)


def install(app: FastAPI) -> None:
    """Every error, including unexpected ones, leaves as Canvas-shaped JSON."""

    @app.exception_handler(CanvasError)
    async def _canvas(request: Request, exc: CanvasError) -> Response:
        if exc.status in (401, 403):
            from starlette.concurrency import run_in_threadpool

            from reportcard.api.audit_events import record_denied

            await run_in_threadpool(record_denied, request, exc.status, exc.body)
        return json_response(exc.body, exc.status, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> Response:
        messages = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("path", "query"))
            messages.append({"message": f"{where}: {err.get('msg')}".strip(": ")})
        return json_response({"errors": messages or [{"message": "invalid request"}]}, 400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return json_response(NOT_FOUND, 404)
        if exc.status_code == 405:
            return json_response(
                {"errors": [{"message": "The requested method is not allowed."}]}, 405
            )
        return json_response(
            {"errors": [{"message": str(exc.detail)}]},
            exc.status_code,
            dict(exc.headers) if exc.headers else None,
        )

    # Safety nets below the handlers' own checks: bad input the database refuses (a NUL byte
    # in a PostgreSQL text column, a number out of range) is the client's error, nesting
    # deeper than the parsers' limit is refused, and a locked or unreachable database is a
    # temporary condition (503 with Retry-After), never a 500.
    @app.exception_handler(DataError)
    async def _data(_: Request, exc: DataError) -> Response:
        return json_response({"errors": [{"message": UNSTORABLE}]}, 400)

    @app.exception_handler(RecursionError)
    async def _deep(_: Request, exc: RecursionError) -> Response:
        return json_response({"errors": [{"message": TOO_DEEP}]}, 400)

    @app.exception_handler(OperationalError)
    async def _busy(request: Request, exc: OperationalError) -> Response:
        if not is_unavailable(exc):  # SQLite's word for a wrong statement too: a real 500
            log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
            return json_response(INTERNAL_ERROR, 500)
        err = database_busy()
        return json_response(err.body, err.status, err.headers)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> Response:
        return json_response(INTERNAL_ERROR, 500)
