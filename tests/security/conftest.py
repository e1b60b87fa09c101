"""Servers for the security tests: the shared ``world`` and servers with limits of their own."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from reportcard.auth.tokens import forget_touches
from reportcard.service.limits import START_BUCKETS
from reportcard.settings import Settings
from tests.api.conftest import World, world
from tests.patience import PATIENCE
from tests.serving import serving_reportcard

__all__ = ["World", "client", "finish", "reports_url", "serve", "world"]


@contextmanager
def serve(settings: Settings, workers: int = 1) -> Iterator[str]:
    """A real uvicorn server over ``settings``; yields its base URL."""
    with serving_reportcard(settings, workers=workers) as base:
        yield base


def client(base: str, token: str | None) -> httpx.Client:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return httpx.Client(base_url=base, headers=headers, timeout=20)


def reports_url(account: int | str, *rest: object) -> str:
    return "/".join([f"/api/v1/accounts/{account}/reports", *map(str, rest)]).rstrip("/")


def finish(c: httpx.Client, url: str, timeout: float = PATIENCE) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = c.get(url).json()
        if body["status"] not in ("created", "running", "compiling"):
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.05)


@pytest.fixture(autouse=True)
def _fresh_process_memory() -> Iterator[None]:
    """Rate buckets and last-used memory are per process: start each test without them."""
    START_BUCKETS.clear()
    forget_touches()
    yield
