"""An app a process has let go of is freed, with its engine and what its workers compiled.

FastAPI keeps every endpoint it has classified in module-level caches (4,096 entries each). An
endpoint made per app, a closure over it (as the /docs pages once were), kept every app a
process had made alive: its runtime, its engine and the statements its workers compiled into
the engine's cache, about 180 MB each. A test process serves an app per module, so it grew by
gigabytes, and its garbage collections stalled its servers for seconds (a page that took over
15 s in CI).
"""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import httpx

from reportcard.app import create_app
from reportcard.db.engine import dispose_all
from reportcard.settings import Settings
from tests.databases import drop_database, fresh_database_url
from tests.patience import ANSWER
from tests.serving import serving


def _served_once(tmp_path: Path) -> tuple[weakref.ref[object], weakref.ref[object]]:
    url = fresh_database_url(tmp_path)
    settings = Settings(data_dir=tmp_path, database_url=url, poll_seconds=0.05)
    app = create_app(settings, workers=1)
    refs = weakref.ref(app), weakref.ref(app.state.services.engine)
    with serving(app) as base:
        for path in ("/docs", "/redoc", "/openapi.json", "/login"):
            assert httpx.get(base + path, timeout=ANSWER).status_code == 200, path
    del app
    dispose_all()
    drop_database(url)
    return refs


def test_an_app_that_was_served_and_let_go_is_freed_with_its_engine(tmp_path: Path) -> None:
    app, engine = _served_once(tmp_path)
    gc.collect()
    assert app() is None
    assert engine() is None
