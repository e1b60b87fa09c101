"""Workers in another process are woken by PostgreSQL's NOTIFY, not found at their next poll.

Each test's worker polls once an hour (``poll_seconds=3600``): without the notification, or
without the listener's reconnection, it would sleep through the run and the wait would end in
its (generous) timeout. The "other process" is a second runtime on the same database: its own
wake-up event, which the worker does not share.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text

from reportcard.db.tables import account_reports
from reportcard.queue import EmbeddedQueue, queue_for
from reportcard.queue.pgwake import APPLICATION_NAME
from reportcard.runtime import Runtime
from reportcard.settings import Settings
from reportcard.storage.local import LocalStorage
from tests.databases import lane
from tests.patience import PATIENCE
from tests.runs.sample import make_institution, sample_run

pytestmark = pytest.mark.skipif(lane() != "postgresql", reason="LISTEN/NOTIFY is PostgreSQL's")


def _settings(tmp_path: Path, **kw: object) -> Settings:
    return Settings(data_dir=tmp_path, poll_seconds=3600, **kw)  # type: ignore[arg-type]


def _listeners(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT pid FROM pg_stat_activity"
                    " WHERE application_name = :name AND datname = current_database()"
                ),
                {"name": APPLICATION_NAME},
            ).scalars()
        )


def _until_no_listener(engine: Engine) -> None:
    """Until the server has seen the closed listening connection go (its backend exits a
    moment after the client closed it)."""
    deadline = time.monotonic() + PATIENCE
    while found := _listeners(engine):
        assert time.monotonic() < deadline, f"listening connections left open: {found}"
        time.sleep(0.01)


def _state(engine: Engine, run_id: int) -> str:
    with engine.connect() as conn:
        state = conn.execute(
            select(account_reports.c.workflow_state).where(account_reports.c.id == run_id)
        ).scalar_one()
        conn.rollback()
    return str(state)


def _wait_until_done(engine: Engine, run_id: int) -> str:
    deadline = time.monotonic() + PATIENCE
    while (state := _state(engine, run_id)) not in ("complete", "error"):
        assert time.monotonic() < deadline, f"run {run_id} still {state}: the worker slept"
        time.sleep(0.05)
    return state


def _elsewhere(engine: Engine, tmp_path: Path) -> EmbeddedQueue:
    """The queue of another process: its own wake-up event, the same database."""
    queue = queue_for(_settings(tmp_path), engine, threading.Event())
    assert isinstance(queue, EmbeddedQueue)
    return queue


class Watched(threading.Event):
    """The worker's wake-up event, telling when the worker sleeps (for its hour)."""

    def __init__(self) -> None:
        super().__init__()
        self.idle = False

    def wait(self, timeout: float | None = None) -> bool:
        self.idle = timeout is not None and timeout >= 3600
        try:
            return super().wait(timeout)
        finally:
            self.idle = False

    def asleep(self) -> bool:
        """The worker waits for the hour and nothing has woken it (only a set() will)."""
        return self.idle and not self.is_set()


def _worker_process(engine: Engine, tmp_path: Path, **kw: object) -> Runtime:
    runtime = Runtime(_settings(tmp_path, **kw), engine, storage=LocalStorage(tmp_path / "f"))
    runtime.wakeup = Watched()
    runtime.start_pool(1)
    return runtime


def _until_asleep(runtime: Runtime) -> None:
    """Until the worker has gone to sleep after its listener connected (and woke it)."""
    assert runtime.listener is not None
    assert runtime.listener.listening.wait(PATIENCE)
    watched = runtime.wakeup
    assert isinstance(watched, Watched)
    deadline = time.monotonic() + PATIENCE
    while not watched.asleep():
        assert time.monotonic() < deadline, "the worker never went idle"
        time.sleep(0.01)


def _create(engine: Engine, queue: EmbeddedQueue) -> int:
    with engine.begin() as conn:
        run_id = sample_run(conn, make_institution(conn, 3))
    queue.run_created(run_id)
    return run_id


def test_a_run_created_elsewhere_wakes_the_worker(engine: Engine, tmp_path: Path) -> None:
    worker = _worker_process(engine, tmp_path)
    try:
        _until_asleep(worker)
        # The worker is asleep for the hour: nothing but the notification wakes it.
        run_id = _create(engine, _elsewhere(engine, tmp_path))
        assert _wait_until_done(engine, run_id) == "complete"
    finally:
        worker.stop_pool()
    _until_no_listener(engine)  # the listening connection went with the workers


def test_a_lost_listening_connection_comes_back(engine: Engine, tmp_path: Path) -> None:
    worker = _worker_process(engine, tmp_path)
    try:
        _until_asleep(worker)
        (pid,) = _listeners(engine)
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        # Created while the listener may be reconnecting: found through the new connection
        # (or through the wake-up it gives on reconnecting), never an hour later.
        run_id = _create(engine, _elsewhere(engine, tmp_path))
        assert _wait_until_done(engine, run_id) == "complete"
        deadline = time.monotonic() + PATIENCE
        while len(found := _listeners(engine)) != 1 or found == [pid]:
            assert time.monotonic() < deadline, "the listener did not reconnect"
            time.sleep(0.05)
    finally:
        worker.stop_pool()
    _until_no_listener(engine)


def test_off_sends_nothing_and_listens_to_nothing(engine: Engine, tmp_path: Path) -> None:
    queue = queue_for(_settings(tmp_path, pg_notify=False), engine, threading.Event())
    assert isinstance(queue, EmbeddedQueue) and queue.notify is None
    worker = _worker_process(engine, tmp_path, pg_notify=False)
    try:
        assert worker.listener is None
        assert _listeners(engine) == []
    finally:
        worker.stop_pool()
