"""Planning keeps its heartbeat, and a planner that stalled past the stale limit backs off.

A planner stalled longer than the stale limit (a plan longer than 15 s during a database
restart was enough) had its run re-planned by another worker; when it resumed, inserting its
shards hit ``UNIQUE(report_id, part_index, seq)`` and the worker's error handler ended the
healthy run in error.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update

from reportcard.clock import utcnow
from reportcard.db.tables import account_reports, report_shards
from reportcard.reports.catalog import Part, Report, RunContext, get_report, register
from reportcard.runs.lifecycle import create_run, get_run
from reportcard.runs.worker import Worker
from reportcard.settings import Settings
from reportcard.storage.local import LocalStorage
from tests.runs.sample import _logins, make_institution
from tests.storage.invariant import assert_storage_clean

STALLING = "planning_stall_csv"
# Called once from inside the plan (select_parts), then cleared: the test's window into a
# planner that is in the middle of planning.
_during_plan: list[Callable[[RunContext], None]] = []


def _select(ctx: RunContext) -> list[str]:
    if _during_plan:
        _during_plan.pop()(ctx)
    return ["logins"]


if get_report(STALLING) is None:
    register(
        Report(
            name=STALLING,
            title="Planning Stall",
            description="The sample's logins, with a hook inside planning (tests only).",
            parameters={},
            parts=[Part("logins", _logins)],
            select_parts=_select,
            extra_text=lambda ctx: "Stall;",
        )
    )


@pytest.fixture(autouse=True)
def _no_hook_left() -> object:
    yield
    _during_plan.clear()


def new_run(engine: Engine, users: int = 2500) -> tuple[int, int]:
    with engine.begin() as conn:
        root = make_institution(conn, users)
        run_id = create_run(
            conn,
            account_id=root,
            root_account_id=root,
            user_id=None,
            report_type=STALLING,
            parameters={},
        )
    return root, run_id


def shard_count(engine: Engine, run_id: int) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).where(report_shards.c.report_id == run_id)
            ).scalar_one()
        )


def test_a_planner_that_stalled_and_was_replanned_backs_off(engine: Engine, tmp_path: Path) -> None:
    # No heartbeat while the test holds planner A inside its plan (one an hour).
    slow = Settings(data_dir=tmp_path, shard_rows=1000, heartbeat_seconds=3600)
    storage = LocalStorage(tmp_path / "files")
    a = Worker(engine, storage, slow, worker_id="planner-a")
    b = Worker(engine, storage, slow, worker_id="planner-b")
    _root, run_id = new_run(engine)
    seen: dict[str, object] = {}

    def stall(ctx: RunContext) -> None:
        # A stalls past the stale limit: its heartbeat is old, B's reaper sends the run back
        # to created, B claims it and plans it whole.
        with engine.begin() as conn:
            conn.execute(
                update(account_reports)
                .where(account_reports.c.id == run_id)
                .values(heartbeat_at=utcnow() - timedelta(minutes=10))
            )
        seen["reaped"] = b.reap()
        seen["b planned"] = b.step()
        seen["shards"] = shard_count(engine, run_id)

    _during_plan.append(stall)
    assert a.step()  # A claims and plans; B does its work inside A's plan
    assert seen["reaped"] == 1 and seen["b planned"] is True
    assert seen["shards"] == 3
    with engine.connect() as conn:
        run = get_run(conn, run_id)
    # A backed off: the run is B's, still running, with B's shards only.
    assert (run.workflow_state, run.worker_id) == ("running", "planner-b")
    assert shard_count(engine, run_id) == 3
    while b.step():
        pass
    with engine.connect() as conn:
        run = get_run(conn, run_id)
    assert run.workflow_state == "complete", run.error_detail
    assert run.current_line == 2501
    assert_storage_clean(engine, storage)


def test_the_planner_beats_its_heartbeat_while_it_plans(engine: Engine, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, shard_rows=1000, heartbeat_seconds=0.05)
    storage = LocalStorage(tmp_path / "files")
    worker = Worker(engine, storage, settings)
    _root, run_id = new_run(engine, 10)
    beats: list[bool] = []

    def watch(ctx: RunContext) -> None:
        with engine.connect() as conn:
            claimed_at = conn.execute(
                select(account_reports.c.heartbeat_at).where(account_reports.c.id == run_id)
            ).scalar_one()
        deadline = time.monotonic() + 20  # a bound on a loaded machine, not a timing claim
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                now = conn.execute(
                    select(account_reports.c.heartbeat_at).where(account_reports.c.id == run_id)
                ).scalar_one()
            if now > claimed_at:
                beats.append(True)
                return
            time.sleep(0.02)
        beats.append(False)

    _during_plan.append(watch)
    assert worker.step()
    assert beats == [True]
    while worker.step():
        pass
    with engine.connect() as conn:
        assert get_run(conn, run_id).workflow_state == "complete"
    assert_storage_clean(engine, storage)
