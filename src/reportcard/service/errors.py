"""Canvas-style error bodies and the exceptions that produce them."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

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
