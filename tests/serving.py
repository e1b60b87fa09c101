"""A real uvicorn server for tests: in a thread, on a free loopback port.

``serving(app)`` serves any ASGI app; ``serving_reportcard(settings, workers=n)`` serves
reportcard itself (``create_app``) with ``n`` embedded workers.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal

import uvicorn

if TYPE_CHECKING:
    from reportcard.settings import Settings

HOST = "127.0.0.1"
KEEP_ALIVE = 300  # seconds a test server keeps an idle connection open (uvicorn: 5)


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(
    app: Callable[..., Any],
    *,
    port: int | None = None,
    lifespan: Literal["auto", "on", "off"] = "on",
    log_level: str = "warning",
    start_timeout: float = 20,
    **options: Any,
) -> Iterator[str]:
    """Serve ``app`` with uvicorn on ``port`` (a free one by default); yields the base URL.

    Yields once the server has started (fails if it has not after ``start_timeout`` seconds);
    on exit the server stops and its thread is joined (for up to 10 seconds). ``options`` go to
    :class:`uvicorn.Config` as they are (e.g. ``proxy_headers``, ``forwarded_allow_ips``).
    """
    port = free_port() if port is None else port
    # A test's client keeps its connection between requests; uvicorn's default 5 s keep-alive
    # can close it just as the next request goes out when a loaded machine stalls the server's
    # loop (a "Connection reset by peer" on a request a real client would retry).
    options.setdefault("timeout_keep_alive", KEEP_ALIVE)
    server = uvicorn.Server(
        uvicorn.Config(app, host=HOST, port=port, log_level=log_level, lifespan=lifespan, **options)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + start_timeout
        while not server.started:
            assert thread.is_alive(), "server stopped while starting"
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.02)
        yield f"http://{HOST}:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def serving_reportcard(settings: Settings, *, workers: int, **options: Any) -> Iterator[str]:
    """Serve reportcard over ``settings`` with ``workers`` embedded workers; yields the base URL.

    ``options`` go to :func:`serving` (``port``, ``lifespan``, uvicorn's own).
    """
    from reportcard.app import create_app

    with serving(create_app(settings, workers=workers), **options) as base:
        yield base
