"""HEAD on every GET route gives the GET's status and headers with no body (as Rails does)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.routing import BaseRoute, Mount, Route

from reportcard.app import create_app
from reportcard.db.engine import dispose_all, make_engine
from reportcard.settings import Settings
from tests.api.conftest import SAMPLE, build_world
from tests.api.test_http import finish
from tests.databases import drop_database, fresh_database_url
from tests.patience import ANSWER
from tests.serving import serving

# Headers that legitimately differ between two requests made one after the other.
_VARYING = {"date", "set-cookie"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, str, Any]]:
    tmp: Path = tmp_path_factory.mktemp("head")
    url = fresh_database_url(tmp)
    settings = Settings(data_dir=tmp, database_url=url, poll_seconds=0.05)
    made = build_world(make_engine(url))
    app = create_app(settings, workers=1)
    try:
        with serving(app) as base:
            yield app, base, made
    finally:
        dispose_all()
        drop_database(url)


def _routes(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, BaseRoute]]:
    """The app's route table, flattened: FastAPI keeps an included router as one entry."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _routes(inner.routes, prefix + route.include_context.prefix)  # type: ignore[attr-defined]
        else:
            yield prefix, route


def _get_paths(routes: list[BaseRoute], made: dict[str, Any]) -> list[str]:
    """Every GET route's path, its parameters filled with ids that exist where we have them."""
    values = {"account_id": str(made["root"]), "report": SAMPLE, "report_type": SAMPLE}
    paths = []
    for prefix, route in _routes(routes):
        if isinstance(route, Mount):
            paths.append(prefix + route.path + "/htmx.min.js")
        elif isinstance(route, Route) and "GET" in (route.methods or ()):
            paths.append(
                re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values.get(m[1], "1"), prefix + route.path)
            )
    return paths


def _same(get: httpx.Response, head: httpx.Response) -> None:
    assert head.status_code == get.status_code, head.request.url
    assert head.content == b""
    strip = [(k, v) for k, v in get.headers.multi_items() if k not in _VARYING]
    assert [(k, v) for k, v in head.headers.multi_items() if k not in _VARYING] == strip


@pytest.mark.parametrize("who", ["admin", None])
def test_head_answers_every_get_route_like_get(
    served: tuple[FastAPI, str, Any], who: str | None
) -> None:
    app, base, made = served
    paths = _get_paths(app.routes, made)
    assert len(paths) > 20  # the route table was read, not an empty list
    headers = {} if who is None else {"Authorization": f"Bearer {made['tokens'][who]}"}
    statuses = set()
    with httpx.Client(base_url=base, headers=headers, timeout=ANSWER) as c:
        for path in paths:
            get = c.get(path)
            head = c.head(path)
            _same(get, head)
            statuses.add(get.status_code)
    assert 405 not in statuses
    assert 200 in statuses


def test_head_on_the_status_fast_path(served: tuple[FastAPI, str, Any]) -> None:
    _, base, made = served
    headers = {"Authorization": f"Bearer {made['tokens']['admin']}"}
    with httpx.Client(base_url=base, headers=headers, timeout=ANSWER) as c:
        started = c.post(f"/api/v1/accounts/{made['root']}/reports/{SAMPLE}").json()
        path = f"/api/v1/accounts/{made['root']}/reports/{SAMPLE}/{started['id']}"
        finish(c, path)  # a finished run: GET and HEAD describe the same state
        get = c.get(path)
        head = c.head(path)
        assert get.status_code == 200 and int(head.headers["content-length"]) == len(get.content)
        _same(get, head)
