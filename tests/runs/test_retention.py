"""The retention sweep with a fixed clock: limits, per-type overrides, what stays."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select, update

from reportcard.clock import utcnow
from reportcard.db.tables import account_reports, attachments
from reportcard.runs.housekeeping import run_all
from reportcard.runs.inline import run_report
from reportcard.runs.lifecycle import create_run, delete_run, get_run
from reportcard.runs.retention import days_for, parse_overrides, sweep
from reportcard.settings import Settings
from reportcard.storage.local import LocalStorage
from tests.runs.sample import SAMPLE, make_institution

CREATED = datetime(2025, 3, 1, 12, 0, 0)


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "files")


def settings(tmp_path: Path, **kw: Any) -> Settings:
    return Settings(data_dir=tmp_path, shard_rows=1000, **kw)


def finished_run(engine: Engine, storage: LocalStorage, tmp_path: Path, root: int) -> Any:
    """A completed run whose file was made at CREATED."""
    done = run_report(
        engine, storage, settings(tmp_path), account_id=root, report_type=SAMPLE, parameters={}
    )
    assert done.workflow_state == "complete"
    with engine.begin() as conn:
        conn.execute(
            update(attachments)
            .where(attachments.c.id == done.attachment_id)
            .values(created_at=CREATED, updated_at=CREATED)
        )
    return done


def other_type_run(engine: Engine, storage: LocalStorage, root: int) -> Any:
    """A finished run of another report type, with a file made at CREATED."""
    with storage.open_write("runs/other/other.csv") as out:
        out.write(b"a\n")
    with engine.begin() as conn:
        run_id = create_run(
            conn,
            account_id=root,
            root_account_id=root,
            user_id=None,
            report_type="other_csv",
            parameters={},
        )
        att = conn.execute(
            insert(attachments).values(
                uuid=f"other-{run_id}",
                context_id=root,
                filename="other.csv",
                display_name="other.csv",
                content_type="text/csv",
                size=2,
                storage_key="runs/other/other.csv",
                workflow_state="processed",
                created_at=CREATED,
                updated_at=CREATED,
            )
        ).inserted_primary_key
        assert att is not None
        conn.execute(
            update(account_reports)
            .where(account_reports.c.id == run_id)
            .values(workflow_state="complete", attachment_id=int(att[0]), end_at=CREATED)
        )
        return get_run(conn, run_id)


def file_state(engine: Engine, storage: LocalStorage, run: Any) -> tuple[str, str, bool]:
    with engine.connect() as conn:
        now = get_run(conn, run.id)
        att = conn.execute(select(attachments).where(attachments.c.id == run.attachment_id)).one()
    assert now.attachment_id == run.attachment_id
    return now.workflow_state, att.workflow_state, storage.exists(att.storage_key)


@pytest.fixture
def root(engine: Engine) -> int:
    with engine.begin() as conn:
        return make_institution(conn, 10)


def test_files_go_after_the_limit_and_the_run_stays(
    engine: Engine,
    storage: LocalStorage,
    tmp_path: Path,
    root: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    run = finished_run(engine, storage, tmp_path, root)
    s = settings(tmp_path)  # 30 days
    assert sweep(engine, storage, s, CREATED + timedelta(days=29, hours=23)) == []
    assert file_state(engine, storage, run) == ("complete", "processed", True)
    with caplog.at_level(logging.INFO, logger="reportcard.runs.retention"):
        removed = sweep(engine, storage, s, CREATED + timedelta(days=30, minutes=1))
    assert [(r.run_id, r.report_type) for r in removed] == [(run.id, SAMPLE)]
    assert file_state(engine, storage, run) == ("complete", "expired", False)
    assert f"of run {run.id}" in caplog.text and "removed 1 files" in caplog.text
    with engine.connect() as conn:
        after = get_run(conn, run.id)
    assert (after.message, after.progress) == (run.message, 100)
    # once expired, it is not swept again
    assert sweep(engine, storage, s, CREATED + timedelta(days=90)) == []


def test_per_type_overrides(
    engine: Engine, storage: LocalStorage, tmp_path: Path, root: int
) -> None:
    sample = finished_run(engine, storage, tmp_path, root)
    other = other_type_run(engine, storage, root)
    week = settings(tmp_path, retention_days_by_report=f"{SAMPLE}=7, other_csv = 0")
    assert days_for(week, SAMPLE) == 7 and days_for(week, "other_csv") == 0
    assert days_for(week, "provisioning_csv") == 30
    assert sweep(engine, storage, week, CREATED + timedelta(days=6)) == []
    removed = sweep(engine, storage, week, CREATED + timedelta(days=7, seconds=1))
    assert [r.run_id for r in removed] == [sample.id]
    assert sweep(engine, storage, week, CREATED + timedelta(days=4000)) == []  # 0: forever
    assert file_state(engine, storage, other) == ("complete", "processed", True)
    as_json = settings(tmp_path, retention_days_by_report='{"other_csv": 1.5}')
    assert sweep(engine, storage, as_json, CREATED + timedelta(days=1)) == []
    removed = sweep(engine, storage, as_json, CREATED + timedelta(days=1, hours=13))
    assert [r.run_id for r in removed] == [other.id]


def test_dry_run_changes_nothing_and_zero_keeps_everything(
    engine: Engine, storage: LocalStorage, tmp_path: Path, root: int
) -> None:
    run = finished_run(engine, storage, tmp_path, root)
    later = CREATED + timedelta(days=31)
    assert sweep(engine, storage, settings(tmp_path, retention_days=0), later) == []
    listed = sweep(engine, storage, settings(tmp_path), later, dry_run=True)
    assert [r.run_id for r in listed] == [run.id]
    assert file_state(engine, storage, run) == ("complete", "processed", True)


def test_deleted_runs_files_go_too_and_active_runs_are_left_alone(
    engine: Engine, storage: LocalStorage, tmp_path: Path, root: int
) -> None:
    gone = finished_run(engine, storage, tmp_path, root)
    with engine.begin() as conn:
        assert delete_run(conn, gone.id)
    busy = finished_run(engine, storage, tmp_path, root)
    with engine.begin() as conn:  # as if it were still compiling
        conn.execute(
            update(account_reports)
            .where(account_reports.c.id == busy.id)
            .values(workflow_state="compiling")
        )
    removed = sweep(engine, storage, settings(tmp_path), CREATED + timedelta(days=31))
    assert [r.run_id for r in removed] == [gone.id]
    assert file_state(engine, storage, busy)[1:] == ("processed", True)


def test_the_housekeeping_job_sweeps_and_two_sweeps_share_the_work(
    engine: Engine, storage: LocalStorage, tmp_path: Path, root: int
) -> None:
    runs = [finished_run(engine, storage, tmp_path, root) for _ in range(6)]
    later = CREATED + timedelta(days=40)
    results: list[int] = []
    barrier = threading.Barrier(2)

    def one() -> None:
        barrier.wait()
        results.append(len(sweep(engine, storage, settings(tmp_path), later)))

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sum(results) == len(runs)
    assert all(file_state(engine, storage, r)[1:] == ("expired", False) for r in runs)
    fresh = run_report(
        engine, storage, settings(tmp_path), account_id=root, report_type=SAMPLE, parameters={}
    )
    run_all(engine, storage, settings(tmp_path, retention_days=1), utcnow() + timedelta(days=2))
    assert file_state(engine, storage, fresh)[1:] == ("expired", False)


def test_parse_overrides() -> None:
    assert parse_overrides("") == {}
    assert parse_overrides("a=1,b=2.5,") == {"a": 1.0, "b": 2.5}
    assert parse_overrides('{"a": 3}') == {"a": 3.0}
    for bad in ("a", "a=x", "a=-1", "[1]", "{"):
        with pytest.raises(ValueError):
            parse_overrides(bad)
    with pytest.raises(ValueError):
        Settings(retention_days_by_report="nonsense")
