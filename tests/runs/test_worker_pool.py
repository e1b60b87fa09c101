"""The embedded queue: worker threads pick up work left by a previous process at start-up."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, select, update

from reportcard.clock import utcnow
from reportcard.db.tables import report_shards
from reportcard.runs.execute import claim_shard
from reportcard.runs.lifecycle import get_run
from reportcard.runs.worker import Worker, WorkerPool
from reportcard.settings import Settings
from reportcard.storage.local import LocalStorage
from tests.patience import PATIENCE
from tests.runs.sample import make_institution, sample_run


def wait_for(engine: Engine, run_id: int, timeout: float = PATIENCE) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            state = str(get_run(conn, run_id).workflow_state)
            conn.rollback()
        if state in ("complete", "error", "aborted"):
            return state
        time.sleep(0.05)
    raise AssertionError("run did not finish")


def test_a_restarted_pool_finishes_what_a_dead_process_left(engine: Engine, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, shard_rows=500, poll_seconds=0.05, heartbeat_seconds=1)
    storage = LocalStorage(tmp_path / "files")
    with engine.begin() as conn:
        root = make_institution(conn, 1800)
        run_id = sample_run(conn, root)
    # The previous server planned the run, claimed a shard and died mid-shard.
    dead = Worker(engine, storage, settings, worker_id="dead")
    assert dead._plan()
    with engine.begin() as conn:
        shard = conn.execute(
            select(report_shards.c.id).where(report_shards.c.report_id == run_id).limit(1)
        ).scalar_one()
        assert claim_shard(conn, shard, "dead")
        conn.execute(
            update(report_shards)
            .where(report_shards.c.id == shard)
            .values(heartbeat_at=utcnow() - timedelta(seconds=10))
        )
    pool = WorkerPool(engine, storage, settings, 2)
    pool.start()
    try:
        assert wait_for(engine, run_id) == "complete"
    finally:
        pool.shutdown()
    with engine.connect() as conn:
        run = get_run(conn, run_id)
    assert run.current_line == 1801
