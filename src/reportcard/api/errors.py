"""Canvas-style error bodies and the exceptions that produce them."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from reportcard.db.busy import is_unavailable

log = logging.getLogger(__name__)

NOT_FOUND = {"errors": [{"message": "The specified resource does not exist."}]}
UNAUTHENTICATED = {
    "status": "unauthenticated",
    "errors": [{"message": "user authorization required"}],
}
UNAUTHORIZED = {
    "status": "unauthorized",
    "errors": [{"message": "user not authorized to perform that action"}],
}
WWW_AUTH = {"WWW-Authenticate": 'Bearer realm="canvas-lms"'}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body),
        status_code=status,
        media_type="application/json; charset=utf-8",
        headers=headers,
    )


class CanvasError(Exception):
    """An error answered with an exact Canvas body and status."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body
        self.headers = headers


def not_found() -> CanvasError:
    return CanvasError(404, NOT_FOUND)


def bad_request(message: str) -> CanvasError:
    return CanvasError(400, {"errors": [{"message": message}]})


INTERNAL_ERROR = {
    "errors": [{"message": "An error occurred.", "error_code": "internal_server_error"}]
}
TOO_DEEP = "The request's parameters are nested too deeply."
UNSTORABLE = "The request contains a value the database cannot store (such as a NUL character)."
BUSY = "The database is busy; try again shortly."
BUSY_RETRY_SECONDS = 5


def database_busy() -> CanvasError:
    """503 with Retry-After: the database is locked, restarting or unreachable for now."""
    return CanvasError(
        503, {"errors": [{"message": BUSY}]}, {"Retry-After": str(BUSY_RETRY_SECONDS)}
    )


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
