"""Path normalisation Rails gives Canvas for free: ``.json`` suffixes and trailing slashes."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


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
