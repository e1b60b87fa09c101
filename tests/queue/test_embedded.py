"""The queue interface's embedded side: events wake the in-process workers."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import Engine

from reportcard.queue import EmbeddedQueue, queue_for
from reportcard.runs.worker import Worker, WorkerPool
from reportcard.settings import Settings
from reportcard.storage.local import LocalStorage
from tests.runs.sample import make_institution, sample_run


def test_events_wake_the_workers(engine: Engine, tmp_path: Path) -> None:
    wake = threading.Event()
    queue = queue_for(Settings(data_dir=tmp_path), engine, wake)
    assert isinstance(queue, EmbeddedQueue)
    queue.run_created(1)
    assert wake.is_set()
    wake.clear()
    queue.shards_planned(1)
    assert wake.is_set()
    pool = WorkerPool(engine, LocalStorage(tmp_path), Settings(data_dir=tmp_path), 2, wake=wake)
    assert all(w.wake is wake for w in pool.workers)


def test_a_worker_tells_of_each_run_it_planned(engine: Engine, tmp_path: Path) -> None:
    told: list[int] = []
    settings = Settings(data_dir=tmp_path)
    storage = LocalStorage(tmp_path / "files")
    worker = Worker(engine, storage, settings, planned=told.append, take_alone=False)
    with engine.begin() as conn:
        root = make_institution(conn, 3)
        first, second = sample_run(conn, root), sample_run(conn, root, n=2)
    while worker.step():
        pass
    assert told == [first, second]
    # A run of one shard its planner took queued nothing: no worker is told of it.
    worker.take_alone = True
    with engine.begin() as conn:
        sample_run(conn, root, n=3)
    while worker.step():
        pass
    assert told == [first, second]


def test_only_postgresql_tells_other_processes(engine: Engine, tmp_path: Path) -> None:
    """SQLite has no channel: workers in other processes poll (tests/queue/test_pg_wake.py)."""
    queue = queue_for(Settings(data_dir=tmp_path), engine, threading.Event())
    assert isinstance(queue, EmbeddedQueue)
    assert (queue.notify is not None) is (engine.dialect.name == "postgresql")
    queue.run_created(1)  # either way a plain call, nothing raised
