"""The report commands, run as a user runs them, on a database and against a real server.

``direct``: a database holding the API tests' world (tests/api/conftest.py), with no server and
no worker. ``served``: another such database behind a real uvicorn server on a free loopback
port, with two embedded workers. Commands run in this process through click's runner (fast);
tests/cli/test_processes.py runs real ``reportcard`` processes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine

import tests.queue.slow_report  # noqa: F401 - registers framework_slow_csv in this process
from reportcard.cli import main
from reportcard.db.engine import dispose_all, make_engine
from reportcard.settings import Settings, get_settings
from tests.api.conftest import build_world
from tests.databases import drop_database, fresh_database_url
from tests.factories import add_login, add_user
from tests.patience import PATIENCE
from tests.serving import serving_reportcard

EXTRA = "tests.queue.slow_report,tests.runs.sample"
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Place:
    """Where commands act: a database (``url`` empty) or a server; and how to invoke them."""

    name: str
    engine: Engine
    settings: Settings
    env: dict[str, str | None]
    root: int
    sub: int
    tokens: dict[str, str]
    url: str = ""

    def invoke(
        self, *args: str, token: str = "admin", env: dict[str, str | None] | None = None
    ) -> Result:
        extra = ["--url", self.url, "--token", self.tokens[token]] if self.url else []
        return invoke([*args, *extra], {**self.env, **(env or {})})

    def json(self, *args: str, token: str = "admin") -> Any:
        result = self.invoke(*args, "--json", token=token)
        assert result.exit_code == 0, (result.stdout, result.stderr)
        return json.loads(result.stdout)

    def storage_bytes(self, attachment_id: int) -> bytes:
        from sqlalchemy import select

        from reportcard.db.tables import attachments
        from reportcard.storage import storage_from_settings

        with self.engine.connect() as conn:
            key = conn.execute(
                select(attachments.c.storage_key).where(attachments.c.id == attachment_id)
            ).scalar_one()
        with storage_from_settings(self.settings).open_read(key) as fh:
            return fh.read()

    def wait_for(self, report: str, run_id: int, states: tuple[str, ...]) -> dict[str, Any]:
        deadline = time.monotonic() + PATIENCE
        while True:
            run: dict[str, Any] = self.json("reports", "status", report, str(run_id))
            if run["status"] in states:
                return run
            assert time.monotonic() < deadline, run
            time.sleep(0.05)


def invoke(args: list[str], env: dict[str, str | None]) -> Result:
    """Run the CLI in this process with ``env`` (settings are re-read for each call)."""
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(main, args, env=env, catch_exceptions=False)
    finally:
        get_settings.cache_clear()


def _env(tmp: Path, url: str) -> dict[str, str | None]:
    return {
        "REPORTCARD_DATA_DIR": str(tmp),
        "REPORTCARD_DATABASE_URL": url,
        "REPORTCARD_EXTRA_REPORT_MODULES": EXTRA,
        "REPORTCARD_POLL_SECONDS": "0.05",
        "REPORTCARD_SHARD_ROWS": "10",
        "REPORTCARD_URL": None,
        "REPORTCARD_TOKEN": None,
    }


EXTRA_LOGINS = 120  # so that framework_slow_csv runs for seconds, long enough to abort


def _more_logins(engine: Engine, root: int) -> None:
    from reportcard.lms.tree import refresh

    with engine.begin() as conn:
        for i in range(EXTRA_LOGINS):
            uid = add_user(
                conn, f"Extra {i}", uuid=f"extra-{root}-{i}", sortable_name=f"{i}, Extra"
            )
            add_login(conn, uid, root, f"extra{i}")
        refresh(conn, root)


def _place(tmp: Path, name: str) -> tuple[Place, str]:
    url = fresh_database_url(tmp)
    engine = make_engine(url)
    made: dict[str, Any] = build_world(engine)
    _more_logins(engine, made["root"])
    # Many runs with one token: the start limits (tests/security) are off, as for the API tests.
    settings = Settings(
        data_dir=tmp,
        database_url=url,
        poll_seconds=0.05,
        shard_rows=10,
        report_start_rate=0,
        max_queued_runs=0,
    )
    place = Place(
        name=name,
        engine=engine,
        settings=settings,
        env=_env(tmp, url),
        root=made["root"],
        sub=made["sub"],
        tokens=made["tokens"],
    )
    return place, url


@pytest.fixture(scope="module")
def direct(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Place]:
    place, url = _place(tmp_path_factory.mktemp("direct"), "direct")
    try:
        yield place
    finally:
        dispose_all()
        drop_database(url)


@contextmanager
def serving(settings: Settings, workers: int = 2) -> Iterator[str]:
    """A real uvicorn server over ``settings`` on a free loopback port; yields its base URL."""
    with serving_reportcard(settings, workers=workers) as base:
        yield base


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Place]:
    place, url = _place(tmp_path_factory.mktemp("served"), "remote")
    try:
        with serving(place.settings) as base:
            place.url = base
            yield place
    finally:
        dispose_all()
        drop_database(url)


@pytest.fixture(params=["direct", "remote"])
def place(request: pytest.FixtureRequest) -> Place:
    """Each test taking ``place`` runs on the database and against the server."""
    name = "direct" if request.param == "direct" else "served"
    fixture: Place = request.getfixturevalue(name)
    return fixture
