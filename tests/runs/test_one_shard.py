"""A run planned as one shard: its planner takes the shard in the plan's own transaction."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update

from reportcard.clock import utcnow
from reportcard.db.tables import account_reports, attachments, report_shards
from reportcard.runs.compile import compile_run
from reportcard.runs.execute import execute_shard
from reportcard.runs.lifecycle import abort_run, get_run
from reportcard.runs.plan import claim_run, plan_run
from reportcard.runs.taken import Taken
from reportcard.runs.worker import Worker
from reportcard.settings import Settings
from reportcard.storage.local import LocalStorage
from tests.runs.sample import expected_csv, file_bytes, make_institution, sample_run


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, shard_rows=1000, stale_seconds=30)


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "files")


def _claimed(engine: Engine, root: int, worker_id: str) -> int:
    with engine.begin() as conn:
        run_id = sample_run(conn, root)
        assert claim_run(conn, run_id, root, 5, worker_id)
    return run_id


def _shards(engine: Engine, run_id: int) -> list[tuple[str, str | None, int]]:
    s = report_shards.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(s.state, s.worker_id, s.attempts).where(s.report_id == run_id).order_by(s.seq)
        ).all()
    return [(r.state, r.worker_id, r.attempts) for r in rows]


def test_the_planner_takes_the_one_shard_of_its_run(engine: Engine, settings: Settings) -> None:
    with engine.begin() as conn:
        root = make_institution(conn, 10)
    run_id = _claimed(engine, root, "w1")
    taken = plan_run(engine, settings, run_id, "w1", take=True)
    assert isinstance(taken, Taken)
    assert _shards(engine, run_id) == [("running", "w1", 1)]  # as claim_shard writes it
    with engine.connect() as conn:
        run = get_run(conn, run_id)
        started = conn.execute(
            select(report_shards.c.started_at).where(report_shards.c.id == taken.shard.id)
        ).scalar_one()
    assert started is not None
    assert (taken.shard.lo, taken.shard.hi, taken.shard.rows) == (1, 10, 10)
    assert taken.run.parameters == run.parameters  # with the plan's extra text
    assert "extra_text" in taken.run.parameters
    # Without ``take``, or as several shards, the plan queues them.
    other = _claimed(engine, root, "w1")
    assert plan_run(engine, settings, other, "w1") is True
    assert _shards(engine, other) == [("queued", None, 0)]


def test_no_shard_is_taken_while_another_runs_shard_waits(
    engine: Engine, settings: Settings
) -> None:
    """A worker takes queued shards of older runs before planning (``Worker._shard``): its
    planner takes a new run's one shard only when none waits, so the queue's order holds."""
    with engine.begin() as conn:
        big = make_institution(conn, 2100)
        small = make_institution(conn, 10, name="Other U")
    first = _claimed(engine, big, "w1")
    assert plan_run(engine, settings, first, "w1", take=True) is True  # three shards, queued
    assert [state for state, _, _ in _shards(engine, first)] == ["queued"] * 3
    second = _claimed(engine, small, "w1")
    assert plan_run(engine, settings, second, "w1", take=True) is True
    assert _shards(engine, second) == [("queued", None, 0)]


def test_a_worker_runs_a_one_shard_run_from_plan_to_file(
    engine: Engine, storage: LocalStorage, settings: Settings
) -> None:
    told: list[int] = []
    with engine.begin() as conn:
        root = make_institution(conn, 900)
        run_id = sample_run(conn, root)
    worker = Worker(engine, storage, settings, planned=told.append)
    assert worker.step()  # claims, plans, takes and writes the shard, compiles
    with engine.connect() as conn:
        assert get_run(conn, run_id).workflow_state == "complete"
    assert _shards(engine, run_id) == [("done", worker.worker_id, 1)]
    assert told == []  # no shard was queued: no worker to wake
    assert file_bytes(engine, storage, run_id) == expected_csv(root, 1, 900)


def test_a_taken_shard_whose_worker_died_is_queued_again_and_the_file_is_exact(
    engine: Engine, storage: LocalStorage, settings: Settings
) -> None:
    """The planner committed its plan with the shard taken, then died before writing it:
    the shard's heartbeat goes stale and the reaper queues it again, as after a claim."""
    with engine.begin() as conn:
        root = make_institution(conn, 900)
    run_id = _claimed(engine, root, "dead-worker")
    assert isinstance(plan_run(engine, settings, run_id, "dead-worker", take=True), Taken)
    stale = utcnow() - timedelta(minutes=5)
    with engine.begin() as conn:
        conn.execute(update(report_shards).values(heartbeat_at=stale))
        conn.execute(update(account_reports).values(heartbeat_at=stale))
    worker = Worker(engine, storage, settings)
    assert worker.reap() == 1  # the shard, queued again; the run keeps its plan
    assert _shards(engine, run_id) == [("queued", None, 1)]
    while worker.step():
        pass
    with engine.connect() as conn:
        assert get_run(conn, run_id).workflow_state == "complete"
    assert _shards(engine, run_id) == [("done", worker.worker_id, 2)]
    assert file_bytes(engine, storage, run_id) == expected_csv(root, 1, 900)


def test_a_taken_run_aborted_before_its_compile_attaches_nothing(
    engine: Engine, storage: LocalStorage, settings: Settings
) -> None:
    """The compile of a taken shard's run reads nothing back: an abort after the shard moved
    the run to compiling is found by the completion, which then records nothing."""
    with engine.begin() as conn:
        root = make_institution(conn, 10)
    run_id = _claimed(engine, root, "w1")
    taken = plan_run(engine, settings, run_id, "w1", take=True)
    assert isinstance(taken, Taken)
    assert execute_shard(engine, storage, taken.shard.id, taken=taken)  # now compiling
    assert taken.made is not None and taken.made.shards[0].rows == 10
    with engine.begin() as conn:
        assert abort_run(conn, run_id)
    compile_run(engine, storage, run_id, taken)
    with engine.connect() as conn:
        run = get_run(conn, run_id)
        assert conn.execute(select(attachments.c.id)).first() is None
    assert run.workflow_state == "aborted"
    assert run.attachment_id is None
    assert not list(storage.list())  # neither the parts nor the compiled file
