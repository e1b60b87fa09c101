"""Runs that end badly leave nothing in storage: every fault test ends with the invariant.

Aborted, deleted and failed runs used to keep their parts (``runs/<id>/parts/*.csv``) forever,
an abort while compiling kept the whole compiled file with no attachment row, and a compile
killed and redone kept its first output; the retention sweep removed none of them.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update

from reportcard.clock import utcnow
from reportcard.db.tables import account_reports, attachments, report_shards
from reportcard.runs.compile import compile_run
from reportcard.runs.execute import claim_shard, execute_shard
from reportcard.runs.formats import write_output
from reportcard.runs.housekeeping import run_all
from reportcard.runs.lifecycle import abort_run, delete_run, get_run
from reportcard.runs.orphans import grace, sweep_orphans
from reportcard.runs.worker import Worker
from reportcard.settings import Settings
from reportcard.storage.local import LocalStorage
from tests.runs.sample import make_institution, sample_run
from tests.storage.invariant import assert_storage_clean, stored_keys


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, shard_rows=1000)


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "files")


def run_shards(engine: Engine, storage: LocalStorage, run_id: int, how_many: int) -> bool:
    """Claim and execute ``how_many`` queued shards of the run; True if the last completed it."""
    with engine.connect() as conn:
        ids = (
            conn.execute(
                select(report_shards.c.id)
                .where(report_shards.c.report_id == run_id, report_shards.c.state == "queued")
                .order_by(report_shards.c.id)
            )
            .scalars()
            .all()
        )
    last = False
    for shard_id in ids[:how_many]:
        with engine.begin() as conn:
            assert claim_shard(conn, shard_id, "test")
        last = execute_shard(engine, storage, shard_id)
    return last


def planned(engine: Engine, storage: LocalStorage, settings: Settings, users: int) -> int:
    with engine.begin() as conn:
        root = make_institution(conn, users)
        run_id = sample_run(conn, root)
    assert Worker(engine, storage, settings).step()  # claims and plans
    return run_id


def later(settings: Settings) -> object:
    return utcnow() + grace(settings) + timedelta(seconds=1)


@pytest.mark.parametrize("end", ["abort", "delete"])
def test_parts_of_a_run_stopped_between_shards_are_swept(
    engine: Engine, storage: LocalStorage, settings: Settings, end: str
) -> None:
    run_id = planned(engine, storage, settings, 2500)  # 3 shards
    assert not run_shards(engine, storage, run_id, 2)
    assert len(stored_keys(storage)) == 2  # two parts written
    with engine.begin() as conn:
        assert (abort_run if end == "abort" else delete_run)(conn, run_id)
    # Nobody holds a shard to notice the stop: the sweep is what removes the parts,
    # once they are older than its grace period (a write may still be finishing before).
    assert sweep_orphans(engine, storage, settings, utcnow()) == []
    run_all(engine, storage, settings, later(settings))  # type: ignore[arg-type]
    assert stored_keys(storage) == []
    assert_storage_clean(engine, storage)


def test_a_shard_that_sees_the_stop_removes_the_parts_at_once(
    engine: Engine, storage: LocalStorage, settings: Settings
) -> None:
    run_id = planned(engine, storage, settings, 2500)
    run_shards(engine, storage, run_id, 1)
    with engine.connect() as conn:
        shard_id = (
            conn.execute(
                select(report_shards.c.id)
                .where(report_shards.c.report_id == run_id, report_shards.c.state == "queued")
                .order_by(report_shards.c.id)
            )
            .scalars()
            .first()
        )
    assert shard_id is not None
    with engine.begin() as conn:
        assert claim_shard(conn, shard_id, "test")
        abort_run(conn, run_id)  # lands after the claim: the shard's checkpoint sees it
    Worker(engine, storage, settings).run_shard(shard_id)
    assert stored_keys(storage) == []
    assert_storage_clean(engine, storage)


def test_an_abort_while_compiling_leaves_no_file(
    engine: Engine, storage: LocalStorage, settings: Settings
) -> None:
    run_id = planned(engine, storage, settings, 2500)
    assert run_shards(engine, storage, run_id, 3)  # the last one moved the run to compiling
    _compile_racing_an_abort(engine, storage, run_id)
    with engine.connect() as conn:
        run = get_run(conn, run_id)
    assert (run.workflow_state, run.attachment_id) == ("aborted", None)
    assert stored_keys(storage) == []
    assert_storage_clean(engine, storage)


def _compile_racing_an_abort(engine: Engine, storage: LocalStorage, run_id: int) -> None:
    """Compile the run, with an abort landing after the file is written and before the
    attachment is recorded (the window in which the compiled file used to be left behind)."""
    from reportcard.runs import compile as compile_step

    real_finish = compile_step.finish

    def finish_after_abort(*args: object, **kw: object) -> bool:
        with engine.begin() as conn:
            assert abort_run(conn, run_id)
        return real_finish(*args, **kw)  # type: ignore[arg-type]

    compile_step.finish = finish_after_abort  # type: ignore[assignment]
    try:
        compile_run(engine, storage, run_id)
    finally:
        compile_step.finish = real_finish  # type: ignore[assignment]


def test_a_killed_compile_redone_by_the_reaper_leaves_only_the_attachment(
    engine: Engine, storage: LocalStorage, settings: Settings
) -> None:
    run_id = planned(engine, storage, settings, 1500)
    assert run_shards(engine, storage, run_id, 2)
    with engine.connect() as conn:
        run = get_run(conn, run_id)
    # The first compile wrote the single CSV (its name has a random suffix) and was killed.
    from reportcard.reports.catalog import get_report
    from reportcard.runs.compile import file_parts
    from reportcard.runs.context import build_context

    report = get_report(run.report_type)
    assert report is not None
    with engine.connect() as conn:
        parts = file_parts(conn, report, build_context(conn, run))
    first = write_output(
        storage,
        report_type=run.report_type,
        run_id=run_id,
        parts=parts,
        always_zip=False,
        params=run.parameters or {},
        now=utcnow(),
    )
    with engine.begin() as conn:  # its heartbeat went stale
        conn.execute(
            update(account_reports)
            .where(account_reports.c.id == run_id)
            .values(heartbeat_at=utcnow() - timedelta(minutes=10))
        )
    assert Worker(engine, storage, settings).reap() == 1  # compiled again
    with engine.connect() as conn:
        run = get_run(conn, run_id)
    assert run.workflow_state == "complete"
    assert storage.exists(first.key)  # still there, claimed by nothing ...
    run_all(engine, storage, settings, later(settings))  # type: ignore[arg-type]
    assert not storage.exists(first.key)  # ... until the sweep
    assert len(stored_keys(storage)) == 1  # the attachment
    assert_storage_clean(engine, storage)


def test_the_sweep_keeps_what_is_live_and_recent(
    engine: Engine, storage: LocalStorage, settings: Settings
) -> None:
    run_id = planned(engine, storage, settings, 2500)
    run_shards(engine, storage, run_id, 1)  # a running run's part: live
    with storage.open_write("runs/999/parts/000-00000.csv") as out:  # no such run
        out.write(b"x\n")
    with storage.open_write("elsewhere/own.txt") as out:  # outside runs/ and sis_imports/
        out.write(b"x\n")
    assert sweep_orphans(engine, storage, settings, utcnow()) == []  # too recent
    removed = sweep_orphans(engine, storage, settings, later(settings))  # type: ignore[arg-type]
    assert [f.key for f in removed] == ["runs/999/parts/000-00000.csv"]
    assert len([k for k in stored_keys(storage) if k.startswith(f"runs/{run_id}/")]) == 1
    assert storage.exists("elsewhere/own.txt")
    assert_storage_clean(engine, storage)


def test_a_duplicate_compile_that_loses_keeps_the_winners_zip(
    engine: Engine, storage: LocalStorage, settings: Settings
) -> None:
    with engine.begin() as conn:
        root = make_institution(conn, 1500)
        run_id = sample_run(conn, root, logins=True, empty=True)  # two parts: a zip
    assert Worker(engine, storage, settings).step()
    assert run_shards(engine, storage, run_id, 3)  # two of logins, one of the empty part
    from reportcard.runs import compile as compile_step

    real_finish = compile_step.finish

    def another_compile_wins_first(*args: object, **kw: object) -> bool:
        # A compile redone by the reaper while this one was only slow: it writes the same
        # zip name and attaches it before this one gets to finish.
        compile_step.finish = real_finish  # type: ignore[assignment]
        compile_run(engine, storage, run_id)
        return real_finish(*args, **kw)  # type: ignore[arg-type]

    compile_step.finish = another_compile_wins_first  # type: ignore[assignment]
    try:
        compile_run(engine, storage, run_id)
    finally:
        compile_step.finish = real_finish  # type: ignore[assignment]
    with engine.connect() as conn:
        run = get_run(conn, run_id)
        key = conn.execute(
            select(attachments.c.storage_key).where(attachments.c.id == run.attachment_id)
        ).scalar_one()
    assert run.workflow_state == "complete" and key.endswith(".zip")
    assert storage.exists(key)
    assert stored_keys(storage) == [key]
    assert_storage_clean(engine, storage)
