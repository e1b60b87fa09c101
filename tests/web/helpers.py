"""Signing in over plain HTTP (httpx) and reading the CSRF token a page carries."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx

from tests.patience import ANSWER, PATIENCE

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _TOKEN.search(html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def sign_in(base: str, login: str = "", password: str = "", token: str = "") -> httpx.Client:
    """A client holding a signed-in session (password, or token when ``token`` is given)."""
    client = httpx.Client(base_url=base, follow_redirects=False, timeout=ANSWER)
    page = client.get("/login")
    assert page.status_code == 200
    form: dict[str, Any] = {"csrf_token": csrf_of(page.text), "next": "/accounts"}
    if token:
        form.update(method="token", access_token=token)
    else:
        form.update(method="password", login=login, password=password)
    answer = client.post("/login", data=form)
    assert answer.status_code == 303, answer.text
    return client


def wait_run(client: httpx.Client, path: str, timeout: float = PATIENCE) -> str:
    """Poll a run's row (as htmx does) until it ends; returns the last HTML."""
    deadline = time.monotonic() + timeout
    while True:
        answer = client.get(path, headers={"HX-Request": "true"})
        if answer.status_code == 286:
            return answer.text
        assert answer.status_code == 200, answer.text
        assert time.monotonic() < deadline, "run did not end"
        time.sleep(0.1)
