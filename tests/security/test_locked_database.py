"""A write-locked SQLite database: 503 with Retry-After from the API, a worker that waits.

Another connection holds the write lock (``BEGIN IMMEDIATE`` from the sqlite3 module) while
requests that write arrive. The server's and the worker's database URL lower the busy timeout
(``?timeout=3``) so the test need not wait 30 s; the test's own connections keep the default.
Nothing here depends on how long anything takes. Before, starts and
downloads (which write an audit row) answered 500, and ``reportcard worker`` exited with a
traceback.
"""

from __future__ import annotations

import os
import queue
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from reportcard.db.busy import is_unavailable, retry_while_unavailable
from reportcard.db.engine import dispose_all, make_engine
from reportcard.db.tables import account_reports
from reportcard.runs.lifecycle import create_run
from reportcard.settings import Settings
from tests.api.conftest import build_world
from tests.databases import fresh_database_url
from tests.patience import ANSWER
from tests.queue.test_celery import REPORTCARD
from tests.runs.sample import SAMPLE
from tests.security.conftest import client, finish, reports_url, serve
from tests.serving import free_port

pytestmark = pytest.mark.sqlite_only


@contextmanager
def write_locked(url: str) -> Iterator[None]:
    """Hold SQLite's write lock from a connection of our own until the block ends."""
    path = make_url(url).database
    assert path
    held = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        held.execute("BEGIN IMMEDIATE")
        yield
        held.execute("ROLLBACK")
    finally:
        held.close()


# Long enough that the server's own writers (its embedded worker) never wait that long on a
# loaded machine, short enough that a request under the held lock answers in seconds.
BUSY = "?timeout=3"


@pytest.fixture
def database(tmp_path: Path) -> Iterator[str]:
    url = fresh_database_url(tmp_path)
    if not url.startswith("sqlite"):
        pytest.skip("SQLite's write lock")
    yield url
    dispose_all()


def test_writes_under_a_held_lock_answer_503_with_retry_after(
    database: str, tmp_path: Path
) -> None:
    made: dict[str, Any] = build_world(make_engine(database))
    token = made["tokens"]["admin"]
    root = made["root"]
    settings = Settings(
        data_dir=tmp_path, database_url=database + BUSY, report_start_rate=0, max_queued_runs=0
    )
    with serve(settings, workers=1) as base, client(base, token) as c:
        run = c.post(reports_url(root, SAMPLE), data={"parameters[a]": "1"}).json()
        done = finish(c, reports_url(root, SAMPLE, run["id"]))
        link = done["attachment"]["url"]
        assert httpx.get(link, timeout=ANSWER).status_code == 200
        with write_locked(database):
            started = c.post(reports_url(root, SAMPLE), data={"parameters[a]": "2"})
            downloaded = httpx.get(link, timeout=ANSWER)  # writes an audit row first
            polled = c.get(reports_url(root, SAMPLE, run["id"]))  # reads go on
        for r in (started, downloaded):
            assert r.status_code == 503, r.text
            assert r.headers["Retry-After"] == "5"
            assert r.json() == {"errors": [{"message": "The database is busy; try again shortly."}]}
        assert polled.status_code == 200
        # the lock released, the same requests succeed
        assert c.post(reports_url(root, SAMPLE), data={"parameters[a]": "2"}).status_code == 200
        assert httpx.get(link, timeout=ANSWER).status_code == 200


def started_and_waiting(command: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    """Start ``command``; return it once it said on stderr that it waits for the database
    (fails if it exits first, or prints a traceback)."""
    proc = subprocess.Popen(
        command,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    try:
        reader = threading.Thread(
            target=lambda: [lines.put(line) for line in proc.stderr or ()], daemon=True
        )
        reader.start()
        seen: list[str] = []
        while not any("retrying" in line for line in seen):
            try:
                seen.append(lines.get(timeout=90))
            except queue.Empty:
                pytest.fail(f"nothing said of retrying: {seen}")
            assert proc.poll() is None, "".join(seen)
        assert "database is locked" in "".join(seen)
        assert not any("Traceback" in line for line in seen)
    except BaseException:
        proc.kill()
        proc.wait(10)
        raise
    return proc


def test_a_worker_started_while_locked_waits_then_works(database: str, tmp_path: Path) -> None:
    engine = make_engine(database)
    made: dict[str, Any] = build_world(engine)
    env = dict(
        os.environ,
        REPORTCARD_DATA_DIR=str(tmp_path),
        REPORTCARD_DATABASE_URL=database + BUSY,
        REPORTCARD_POLL_SECONDS="0.05",
    )
    with write_locked(database):
        worker = started_and_waiting([REPORTCARD, "-v", "worker", "--threads", "1"], env)
    try:
        # the lock is gone: the same worker process now runs a report
        with engine.begin() as conn:
            run_id = create_run(
                conn,
                account_id=made["root"],
                root_account_id=made["root"],
                user_id=None,
                report_type="provisioning_csv",  # a built-in report (the sample is the tests')
                parameters={"users": "true"},
            )
        deadline = time.monotonic() + 120
        while True:
            with engine.connect() as conn:
                row = conn.execute(
                    select(account_reports).where(account_reports.c.id == run_id)
                ).one()
            state = row.workflow_state
            if state == "complete":
                break
            assert state != "error", row.parameters
            assert worker.poll() is None, "the worker exited"
            assert time.monotonic() < deadline, state
            time.sleep(0.1)
    finally:
        worker.terminate()
        worker.wait(20)


def test_a_server_started_while_locked_waits_then_serves(database: str, tmp_path: Path) -> None:
    port = free_port()
    env = dict(
        os.environ, REPORTCARD_DATA_DIR=str(tmp_path), REPORTCARD_DATABASE_URL=database + BUSY
    )
    command = [REPORTCARD, "-v", "serve", "--port", str(port), "--workers", "1"]
    with write_locked(database):
        server = started_and_waiting(command, env)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/api/v1/accounts", timeout=10)
                break
            except httpx.TransportError:
                assert server.poll() is None, "the server exited"
                assert time.monotonic() < deadline, "the server never served"
                time.sleep(0.1)
        assert answer.status_code == 401  # serving: no token, Canvas's answer
    finally:
        server.terminate()
        server.wait(20)


def test_only_an_unavailable_database_is_waited_for(database: str) -> None:
    """A wrong statement is SQLite's OperationalError too: a 500 and a crash, never a wait."""
    engine = make_engine(database + "?timeout=0.1")
    with pytest.raises(OperationalError) as wrong, engine.connect() as conn:
        conn.execute(text("SELECT * FROM no_such_table"))
    assert not is_unavailable(wrong.value)
    calls = []

    def step() -> None:
        calls.append(1)
        with engine.connect() as conn:
            conn.execute(text("SELECT * FROM no_such_table"))

    with pytest.raises(OperationalError):
        retry_while_unavailable(step, what="test", pause=0)
    assert calls == [1]  # raised at once, not retried
    with write_locked(database), pytest.raises(OperationalError) as locked, engine.begin() as c:
        c.execute(text("SELECT 1"))
    assert is_unavailable(locked.value)
