"""Request shapes handled before routing.

- :class:`NormalizePath`: what Rails gives Canvas for free, ``.json`` suffixes and trailing
  slashes.
- :class:`RefuseNul`: a NUL character in an API path (404: it names nothing) or query string
  (400). PostgreSQL text cannot hold one, so it must never reach a query; the Reports pages
  refuse it themselves (``reportcard.web.base.refuse_nul``), bodies are caught where they
  are parsed and, as a last resort, by the database error handler (400).
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from reportcard.service.errors import NOT_FOUND

NUL_QUERY = "The query string contains a character that is not allowed (NUL)."
_GUARDED = ("/api/", "/files/")


class RefuseNul:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(_GUARDED):
            if "\x00" in scope["path"]:
                await _answer(send, 404, NOT_FOUND)
                return
            if b"\x00" in unquote_to_bytes(scope.get("query_string", b"")):
                await _answer(send, 400, {"errors": [{"message": NUL_QUERY}]})
                return
        await self.app(scope, receive, send)


async def _answer(send: Send, status: int, body: object) -> None:
    data = orjson.dumps(body)
    headers = [
        (b"content-type", b"application/json; charset=utf-8"),
        (b"content-length", str(len(data)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


class NormalizePath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            new = path
            if len(new) > 1 and new.endswith("/"):
                new = new.rstrip("/") or "/"
            if new.startswith("/api/") and new.endswith(".json"):
                new = new[: -len(".json")]
            if new != path:
                scope = dict(scope)
                scope["path"] = new
                scope["raw_path"] = new.encode("utf-8")
        await self.app(scope, receive, send)
