"""``HEAD`` on every ``GET`` route, as Rails (and so Canvas) answers it.

FastAPI registers a route for the methods it is declared with, so ``HEAD`` on a ``GET`` route
would be 405. :class:`HeadAsGet`, the outermost middleware, runs a ``HEAD`` request as the
``GET`` it stands for (through every other layer, the plain-ASGI status path included) and
sends the ``GET``'s status and headers (``Content-Length`` too) with an empty body, as
``Rack::Head`` does.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        scope = dict(scope)
        scope["method"] = "GET"
        ended = False

        async def send_head(message: Message) -> None:
            nonlocal ended
            if message["type"] == "http.response.start":
                await send(message)
            elif message["type"] == "http.response.body" and not ended:
                # The first body message ends the answer; the rest of the body is dropped.
                ended = True
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            elif message["type"] not in ("http.response.body",):
                await send(message)

        await self.app(scope, receive, send_head)
