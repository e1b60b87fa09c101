"""runs/hooks.py: what the packages above the run engine install, found through the engine."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from reportcard.db.engine import make_engine
from reportcard.db.tables import account_reports
from reportcard.runs.events import run_ended
from reportcard.runs.hooks import Hooks, hooks_of, run_created
from reportcard.runs.housekeeping import run_all, run_due
from reportcard.runs.lifecycle import fail_run
from reportcard.settings import Settings
from reportcard.storage.local import LocalStorage
from tests.runs.sample import make_institution, sample_run


def test_bound_hooks_are_found_from_the_engine_and_its_connections(database_url: str) -> None:
    engine = make_engine(database_url)
    assert hooks_of(engine).listeners == []  # nobody bound any: none
    hooks = Hooks()
    assert hooks.bind(engine) is engine
    assert hooks_of(engine) is hooks
    with engine.connect() as conn:
        assert hooks_of(conn) is hooks


def test_listeners_run_in_order_inside_the_transition(engine: Engine) -> None:
    seen: list[tuple[str, int, str]] = []
    hooks = Hooks()

    def first(conn: Connection, run: Any) -> None:
        seen.append(("first", int(run.id), run.workflow_state))

    def second(conn: Connection, run: Any) -> None:
        seen.append(("second", int(run.id), run.workflow_state))
        r = account_reports.c
        conn.execute(update(account_reports).where(r.id == run.id).values(message="listener"))

    hooks.on_run_ended(first)
    hooks.on_run_ended(second)
    hooks.on_run_ended(first)  # once only
    hooks.bind(engine)
    with engine.begin() as conn:
        root = make_institution(conn, 3)
        run_id = sample_run(conn, root)
    try:
        with engine.begin() as conn:
            assert fail_run(conn, run_id, "stopped")
            raise RuntimeError("roll the transition back")
    except RuntimeError:
        pass
    assert seen == [("first", run_id, "error"), ("second", run_id, "error")]
    with engine.connect() as conn:
        # rolled back with the transition: the run is not ended, the listener's row not written
        row = conn.execute(select(account_reports).where(account_reports.c.id == run_id)).one()
        assert (row.workflow_state, row.message) == ("created", None)


def test_run_ended_without_listeners_reads_nothing(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.begin() as conn:
        run_ended(conn, 12345)  # no listeners: no lookup of the (missing) run either


def test_periodic_jobs_run_when_due_and_all_at_once(engine: Engine, tmp_path: Path) -> None:
    calls: list[str] = []
    hooks = Hooks()
    hooks.every("often", lambda s: 0.0, lambda e, st, s, now: calls.append("often") or 1)
    hooks.every("rarely", lambda s: 3600.0, lambda e, st, s, now: calls.append("rarely") or 2)
    hooks.every("often", lambda s: 0.0, lambda e, st, s, now: 100)  # a second add is ignored
    hooks.bind(engine)
    settings, storage = Settings(data_dir=tmp_path), LocalStorage(tmp_path / "files")
    now = datetime(2030, 1, 1)
    assert run_due(engine, storage, settings, now) == 3  # both: never run in this process
    assert run_due(engine, storage, settings, now) == 1  # only the one due again
    assert run_all(engine, storage, settings, now) == 3
    assert calls == ["often", "rarely", "often", "often", "rarely"]


def test_run_created_tells_every_announcer(database_url: str) -> None:
    engine = make_engine(database_url)
    run_created(engine, 7)  # none bound: nothing to tell
    told: list[int] = []
    hooks = Hooks()
    hooks.created.append(told.append)
    hooks.bind(engine)
    run_created(engine, 7)
    assert told == [7]
