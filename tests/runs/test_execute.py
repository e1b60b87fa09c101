"""The run framework on a real SQLite database: shards, compile, progress, abort, recovery."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, event, func, select, update
from sqlalchemy.pool import StaticPool

from reportcard.clock import utcnow
from reportcard.db.engine import RELAXED_COMMIT
from reportcard.db.tables import account_reports, attachments, report_shards
from reportcard.runs.execute import (
    RunStopped,
    _SqliteCheckpoint,
    checkpoints,
    claim_shard,
    parallel_query,
    waiting_rows,
)
from reportcard.runs.hooks import hooks_of
from reportcard.runs.inline import run_report
from reportcard.runs.lifecycle import abort_run, create_run, get_run
from reportcard.runs.worker import Worker
from reportcard.settings import Settings
from reportcard.storage.local import LocalStorage
from tests.databases import lane
from tests.runs.sample import (
    SAMPLE,
    abandon_first_shard,
    expected_csv,
    file_bytes,
    make_institution,
    sample_run,
)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, shard_rows=1000, stale_seconds=30)


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "files")


def test_sharded_run_writes_exact_bytes_in_key_order(
    engine: Engine, storage: LocalStorage, settings: Settings
) -> None:
    with engine.begin() as conn:
        root = make_institution(conn, 3500)
    run = run_report(engine, storage, settings, account_id=root, report_type=SAMPLE)
    assert run.workflow_state == "complete"
    with engine.connect() as conn:
        shards = conn.execute(
            select(func.count()).where(report_shards.c.report_id == run.id)
        ).scalar_one()
    assert shards == 4  # 3500 rows / 1000 per shard
    assert file_bytes(engine, storage, run.id) == expected_csv(root, 1, 3500)
    assert run.progress == 100
    assert run.current_line == 3501  # rows plus the header line, as Canvas counts
    assert run.parameters["extra_text"] == "Sample;"
    assert run.message == (
        "Framework Sample report successfully generated with the following settings. "
        "Account: Sample U; Sample;"
    )
    # parts are cleaned up after compiling
    assert not (storage.root / f"runs/{run.id}/parts").exists()


def test_one_shard_and_many_shards_give_identical_files(
    engine: Engine, storage: LocalStorage, tmp_path: Path
) -> None:
    with engine.begin() as conn:
        root = make_institution(conn, 1200)
    one = run_report(
        engine,
        storage,
        Settings(data_dir=tmp_path, shard_rows=10_000),
        account_id=root,
        report_type=SAMPLE,
    )
    many = run_report(
        engine,
        storage,
        Settings(data_dir=tmp_path, shard_rows=97),  # 13 shards, the last one short
        account_id=root,
        report_type=SAMPLE,
    )
    with engine.connect() as conn:
        counts = [
            conn.execute(
                select(func.count()).where(report_shards.c.report_id == run.id)
            ).scalar_one()
            for run in (one, many)
        ]
    assert counts == [1, 13]
    assert file_bytes(engine, storage, one.id) == file_bytes(engine, storage, many.id)


def test_two_parts_make_a_zip_in_part_order_with_an_empty_line_file(
    engine: Engine, storage: LocalStorage, settings: Settings
) -> None:
    with engine.begin() as conn:
        root = make_institution(conn, 3)
    run = run_report(
        engine,
        storage,
        settings,
        account_id=root,
        report_type=SAMPLE,
        parameters={"logins": "1", "empty": "true"},
    )
    with engine.connect() as conn:
        att = conn.execute(select(attachments).where(attachments.c.id == run.attachment_id)).one()
    assert att.content_type == "application/zip"
    assert att.filename == att.display_name
    assert att.filename.startswith(f"{SAMPLE}_") and att.filename.endswith(f"_{run.id}.zip")
    zf = zipfile.ZipFile(io.BytesIO(file_bytes(engine, storage, run.id)))
    assert zf.namelist() == ["logins.csv", "empty.csv"]
    assert zf.read("empty.csv") == b"\n"
    assert zf.read("logins.csv") == expected_csv(root, 1, 3)


def test_single_csv_name_has_canvas_temp_suffix(
    engine: Engine, storage: LocalStorage, settings: Settings
) -> None:
    import re

    with engine.begin() as conn:
        root = make_institution(conn, 2)
    run = run_report(engine, storage, settings, account_id=root, report_type=SAMPLE)
    with engine.connect() as conn:
        att = conn.execute(select(attachments).where(attachments.c.id == run.attachment_id)).one()
    assert att.content_type == "text/csv"
    pattern = rf"^{SAMPLE}_\d\d_[A-Z][a-z]{{2}}_\d{{4}}_{run.id}\d{{8}}-\d+-[0-9a-z]{{7}}\.csv$"
    assert re.match(pattern, att.filename), att.filename


def test_abort_mid_shard_stops_writing_and_attaches_nothing(
    engine: Engine, storage: LocalStorage, settings: Settings
) -> None:
    with engine.begin() as conn:
        root = make_institution(conn, 2500)
        run_id = sample_run(conn, root)
    settings = Settings(data_dir=settings.data_dir, shard_rows=10_000)
    worker = Worker(engine, storage, settings, take_alone=False)
    assert worker.step()  # claims and plans: one shard of 2500 rows, queued
    with engine.begin() as conn:
        assert abort_run(conn, run_id)
    assert worker.step() is False  # the queued shard was cancelled with the run
    with engine.connect() as conn:
        run = get_run(conn, run_id)
        states = conn.execute(
            select(report_shards.c.state).where(report_shards.c.report_id == run_id)
        ).scalars()
        assert list(states) == ["cancelled"]
    assert run.workflow_state == "aborted"
    assert run.attachment_id is None
    assert run.progress == 100
    assert run.message == "Generating the report, Framework Sample Csv, stopped."
    assert run.parameters["extra_text"] == "Report has been aborted"


def test_checkpoint_notices_abort_while_a_shard_is_running(
    engine: Engine, storage: LocalStorage, settings: Settings
) -> None:
    with engine.begin() as conn:
        root = make_institution(conn, 2500)
        run_id = sample_run(conn, root)
    settings = Settings(data_dir=settings.data_dir, shard_rows=10_000)
    worker = Worker(engine, storage, settings, take_alone=False)
    worker.step()  # plans: its one shard queued
    with engine.begin() as conn:
        shard_id = conn.execute(
            select(report_shards.c.id).where(report_shards.c.report_id == run_id)
        ).scalar_one()
        assert claim_shard(conn, shard_id, "test")
        # The abort lands after the claim: the first 1000-row checkpoint must notice it.
        abort_run(conn, run_id)
        conn.execute(
            update(report_shards).where(report_shards.c.id == shard_id).values(state="running")
        )
    worker.run_shard(shard_id)
    with engine.connect() as conn:
        state = conn.execute(
            select(report_shards.c.state).where(report_shards.c.id == shard_id)
        ).scalar_one()
    assert state == "cancelled"
    assert not list((storage.root / f"runs/{run_id}/parts").glob("*"))


def test_a_lost_worker_shard_is_retried_and_the_file_is_exact(
    engine: Engine, storage: LocalStorage, settings: Settings
) -> None:
    with engine.begin() as conn:
        root = make_institution(conn, 2100)
        run_id = sample_run(conn, root)
    worker = Worker(engine, storage, settings)
    worker.step()  # plan: 3 shards
    with engine.begin() as conn:
        # A worker claimed it, wrote half a part file, and died (its heartbeat went stale).
        first = abandon_first_shard(conn, run_id)
    (storage.root / f"runs/{run_id}/parts").mkdir(parents=True, exist_ok=True)
    (storage.root / f"runs/{run_id}/parts/000-00000.csv").write_bytes(b"garbage,half,row")
    while worker.step():
        pass
    with engine.connect() as conn:
        run = get_run(conn, run_id)
        attempts = conn.execute(
            select(report_shards.c.attempts).where(report_shards.c.id == first)
        ).scalar_one()
    assert run.workflow_state == "complete"
    assert attempts == 2
    assert file_bytes(engine, storage, run_id) == expected_csv(root, 1, 2100)


def test_the_reaper_tells_of_the_work_it_queued_again(
    engine: Engine, storage: LocalStorage, settings: Settings
) -> None:
    """A shard whose worker died, queued again, is news for every worker (``planned``: the
    queue's "shards planned", PostgreSQL's NOTIFY for other processes), told after the commit;
    an idle reap tells nothing."""
    told: list[tuple[int, str]] = []
    watched: list[int] = []  # the abandoned shard, once there is one

    def planned(run_id: int) -> None:
        with engine.connect() as conn:  # what another worker would read now: committed
            shard = conn.execute(
                select(report_shards.c.state).where(report_shards.c.id.in_(watched))
            ).scalar()
            conn.rollback()
        told.append((run_id, str(shard)))

    with engine.begin() as conn:
        root = make_institution(conn, 2100)
        run_id = sample_run(conn, root)
    worker = Worker(engine, storage, settings, planned=planned)
    worker.step()  # plan: 3 shards
    told.clear()
    with engine.begin() as conn:
        watched.append(abandon_first_shard(conn, run_id))
    assert worker.reap() == 1
    assert told == [(run_id, "queued")]
    told.clear()
    assert worker.reap() == 0
    assert told == []


def test_shards_that_keep_failing_end_the_run_in_error(
    engine: Engine, storage: LocalStorage, settings: Settings
) -> None:
    with engine.begin() as conn:
        root = make_institution(conn, 10)
        run_id = sample_run(conn, root)
    worker = Worker(engine, storage, settings, take_alone=False)
    worker.step()  # plans: its one shard queued
    # Make every attempt fail: the storage root becomes a file, so part writes raise.
    broken = LocalStorage(settings.data_dir / "broken")
    (settings.data_dir / "broken" / "runs").write_text("not a directory")
    worker.storage = broken
    while worker.step():
        pass
    with engine.connect() as conn:
        run = get_run(conn, run_id)
    assert run.workflow_state == "error"
    assert run.progress == 100
    assert run.message == "Generating the report, Framework Sample Csv, failed."
    assert run.parameters["extra_text"].startswith(
        "Failed, please report the following error code to your system administrator:"
    )


def test_concurrency_cap_per_root_account(
    engine: Engine, storage: LocalStorage, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, concurrency_per_root=1)
    with engine.begin() as conn:
        root = make_institution(conn, 5)
        other = make_institution(conn, 5, name="Other U")
        ids = [
            create_run(
                conn,
                account_id=acct,
                root_account_id=acct,
                user_id=None,
                report_type=SAMPLE,
                parameters={"n": i},
            )
            for i, acct in enumerate([root, root, other])
        ]
    worker = Worker(engine, storage, settings, take_alone=False)  # the runs stay running
    assert worker._plan() and worker._plan()
    with engine.connect() as conn:
        states = [get_run(conn, i).workflow_state for i in ids]
    # the second run of the first root waits; the other root's run is not held back
    assert states == ["running", "created", "running"]
    while worker.step():
        pass
    with engine.connect() as conn:
        assert [get_run(conn, i).workflow_state for i in ids] == ["complete"] * 3
        assert conn.execute(select(func.count()).select_from(account_reports)).scalar_one() == 3


def test_checkpoints_count_rows_and_leave_their_connection_as_they_found_it(
    database_url: str, engine: Engine
) -> None:
    with engine.begin() as conn:
        root = make_institution(conn, 10)
        run_id = sample_run(conn, root)
        conn.execute(
            update(account_reports)
            .where(account_reports.c.id == run_id)
            .values(workflow_state="running", total_lines=4000)
        )
    # One pooled connection, so the one the checkpoints held is the one handed out next.
    single = create_engine(engine.url, poolclass=StaticPool)
    try:
        before = utcnow()
        with checkpoints(single, run_id) as checkpoint:
            checkpoint(1000)
            checkpoint(1000)
        with single.connect() as conn:
            run = get_run(conn, run_id)
            assert (run.current_line, run.progress) == (2000, 50)
            # Stamped as SQLAlchemy stores a time (on SQLite the UPDATE runs on the driver).
            assert run.heartbeat_at >= before and run.updated_at == run.heartbeat_at
            if lane() == "sqlite":
                stored = conn.exec_driver_sql(
                    f"SELECT heartbeat_at FROM account_reports WHERE id = {run_id}"
                ).scalar_one()
                assert stored == run.heartbeat_at.strftime("%Y-%m-%d %H:%M:%S.%f")
            if lane() == "postgresql":
                assert conn.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"
                assert conn.get_isolation_level() == "READ COMMITTED"
            conn.rollback()
        with engine.begin() as conn:
            abort_run(conn, run_id)
        with pytest.raises(RunStopped), checkpoints(single, run_id) as checkpoint:
            checkpoint(1000)
    finally:
        single.dispose()


@pytest.mark.skipif(lane() != "postgresql", reason="SQLite runs one writer at a time")
def test_two_shards_ending_at_once_move_the_run_on(
    engine: Engine, storage: LocalStorage, settings: Settings
) -> None:
    """The last two shards complete together, the later with no rows left to add: the second
    completion still sees the first one's shard done, and the run moves to compiling.

    Arranged with the run's row locked by a third connection: shard A's completion is queued
    on the lock first, then B's; without the lock every completion takes first, B would check
    with a snapshot taken before A committed and both would leave the run running."""
    import threading
    import time

    from sqlalchemy import text

    from reportcard.runs.execute import finish_shard

    with engine.begin() as conn:
        root = make_institution(conn, 25)
        run_id = sample_run(conn, root)
    worker = Worker(engine, storage, Settings(data_dir=settings.data_dir, shard_rows=10))
    worker.step()  # plans the run
    with engine.begin() as conn:
        shards = list(
            conn.execute(
                select(report_shards.c.id).where(report_shards.c.report_id == run_id)
            ).scalars()
        )
        for shard_id in shards:
            assert claim_shard(conn, shard_id, "test")
    assert len(shards) >= 3
    for shard_id in shards[:-2]:
        assert not finish_shard(engine, run_id, shard_id, 10, 1, 10)
    a, b = shards[-2:]
    won: dict[int, bool] = {}

    def finish(shard_id: int, pending: int) -> None:
        won[shard_id] = finish_shard(engine, run_id, shard_id, pending, 1, pending)

    def waiting(n: int) -> None:
        deadline = time.monotonic() + 300  # a guard against a hang, not a speed limit
        while True:
            with engine.connect() as watch:
                got = watch.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                        " AND wait_event_type = 'Lock'"
                    )
                ).scalar_one()
            if got >= n:
                return
            assert time.monotonic() < deadline
            time.sleep(0.02)

    holder = engine.connect()
    trans = holder.begin()
    holder.execute(
        select(account_reports.c.id).where(account_reports.c.id == run_id).with_for_update()
    )
    first = threading.Thread(target=finish, args=(a, 5))
    first.start()
    waiting(1)
    second = threading.Thread(target=finish, args=(b, 0))
    second.start()
    waiting(2)
    trans.rollback()
    holder.close()
    first.join(300)
    second.join(300)
    assert sorted(won.values()) == [False, True]
    with engine.connect() as conn:
        assert get_run(conn, run_id).workflow_state == "compiling"


def test_the_rows_waiting_are_the_queued_shards_estimates_of_running_runs(
    engine: Engine, storage: LocalStorage, settings: Settings
) -> None:
    """``waiting_rows``: the planner's estimates of the shards of running runs still queued,
    what decides whether a starting shard uses the server's parallel query."""
    with engine.begin() as conn:
        root = make_institution(conn, 2500)
        run_id = sample_run(conn, root)
    with engine.connect() as conn:
        assert conn.execute(select(waiting_rows())).scalar_one() is None  # created: not planned
        conn.rollback()
    assert Worker(engine, storage, settings)._plan()
    with engine.connect() as conn:
        shards = conn.execute(
            select(report_shards.c.id, report_shards.c.rows)
            .where(report_shards.c.report_id == run_id)
            .order_by(report_shards.c.priority)
        ).all()
        conn.rollback()
    assert len(shards) == 3  # 2500 rows / 1000 per shard
    assert sum(s.rows for s in shards) == 2500  # estimated while queued
    for i, shard in enumerate(shards):
        with engine.begin() as conn:
            assert claim_shard(conn, shard.id, "w1")
        with engine.connect() as conn:
            left = sum(s.rows for s in shards[i + 1 :]) or None
            assert conn.execute(select(waiting_rows())).scalar_one() == left
            conn.rollback()
    with engine.begin() as conn:  # a queued shard of a run no longer running waits for no one
        conn.execute(
            update(report_shards).where(report_shards.c.id == shards[0].id).values(state="queued")
        )
        abort_run(conn, run_id)
    with engine.connect() as conn:
        assert conn.execute(select(waiting_rows())).scalar_one() is None
        conn.rollback()


def test_a_shard_uses_parallel_query_when_little_or_nothing_waits() -> None:
    """``parallel_query``: none waiting, or at most a ``WAITING_SHARE``-th of its own rows."""
    assert parallel_query(None, 0)
    assert parallel_query(None, 1000)
    assert parallel_query(0, 0)  # planned before estimates were stored: their rows are 0
    assert parallel_query(250, 1000)
    assert not parallel_query(251, 1000)
    assert not parallel_query(1000, 1000)  # a file's shards of equal size: serial
    assert not parallel_query(1, 0)


@contextmanager
def recording(engine: Engine) -> Iterator[list[str]]:
    """Every statement the engine's connections send inside the block (a listener)."""
    sent: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_an_idle_reap_reads_and_writes_nothing(
    engine: Engine, storage: LocalStorage, settings: Settings
) -> None:
    """With nothing stale the reaper is one read: no write transaction, no UPDATE."""
    with engine.begin() as conn:
        root = make_institution(conn, 10)
        sample_run(conn, root)
    worker = Worker(engine, storage, settings)
    while worker.step():
        pass
    with recording(engine) as sent:
        assert worker.reap() == 0
    assert len(sent) == 1 and sent[0].startswith("SELECT")


def _settled_worker_and_run(
    engine: Engine, storage: LocalStorage, settings: Settings
) -> tuple[Worker, int]:
    """A worker past its periodic jobs' first rounds, and a sample run created after them.

    The jobs are then held off for the test: the run's emails would otherwise be delivered
    (a write transaction of its own) by the idle step after the run whenever the mail's
    interval had passed meanwhile, as it can on a loaded machine."""
    worker = Worker(engine, storage, settings)
    while worker.step():
        pass
    for job in hooks_of(engine).jobs.values():
        job.last = float("inf")
    with engine.begin() as conn:
        root = make_institution(conn, 10)
        run_id = sample_run(conn, root)
    return worker, run_id


@pytest.mark.sqlite_only
def test_a_one_shard_run_takes_four_write_transactions(
    engine: Engine, storage: LocalStorage, settings: Settings
) -> None:
    """Claim, plan (its one shard taken by the planner), finish the shard, complete the run:
    SQLite's write lock is taken for those alone (the idle step after the run takes none);
    with the shard queued for any worker, its claim is a fifth."""
    worker, run_id = _settled_worker_and_run(engine, storage, settings)
    for take, transactions in ((True, 4), (False, 5)):
        if not take:
            with engine.begin() as conn:
                run_id = sample_run(conn, get_run(conn, run_id).root_account_id)
        worker.take_alone = take
        with recording(engine) as sent:
            while worker.step():
                pass
        with engine.connect() as conn:
            assert get_run(conn, run_id).workflow_state == "complete"
        assert sum(s == "BEGIN IMMEDIATE" for s in sent) == transactions


@pytest.mark.skipif(lane() != "postgresql", reason="SQLite syncs no commit (WAL, NORMAL)")
def test_only_the_completion_of_a_run_waits_for_its_wal_flush(
    engine: Engine, storage: LocalStorage, settings: Settings
) -> None:
    """The claim, the plan, the shard's claim and its finish commit without waiting for the
    WAL flush (each is a state the reaper recovers from); the completion, which makes them
    all durable, waits."""
    worker, run_id = _settled_worker_and_run(engine, storage, settings)

    def commit(conn: object) -> None:
        sent.append("COMMIT")

    event.listen(engine, "commit", commit)
    try:
        with recording(engine) as sent:
            while worker.step():
                pass
    finally:
        event.remove(engine, "commit", commit)
    with engine.connect() as conn:
        assert get_run(conn, run_id).workflow_state == "complete"
    transactions: list[list[str]] = [[]]
    for statement in sent:
        if statement == "COMMIT":
            transactions.append([])
        else:
            transactions[-1].append(statement)
    writes = [t for t in transactions if any(s.startswith(("UPDATE", "INSERT")) for s in t)]
    relaxed = [RELAXED_COMMIT in t for t in writes]
    completes = ["INSERT INTO attachments" in " ".join(t) for t in writes]
    assert relaxed == [True, True, True, False]  # the plan takes its one shard
    assert completes == [False, False, False, True]


@pytest.mark.sqlite_only
def test_the_sqlite_checkpoint_is_compiled_once_per_dialect(engine: Engine) -> None:
    with engine.connect() as a, engine.connect() as b:
        first, second = _SqliteCheckpoint(a), _SqliteCheckpoint(b)
        assert first.form is second.form
        a.rollback()
        b.rollback()


@pytest.mark.skipif(lane() != "postgresql", reason="PostgreSQL's checkpoints in pipeline mode")
def test_a_checkpoint_after_the_run_ended_stops_the_shard_once_its_answer_is_in(
    engine: Engine,
) -> None:
    """A checkpoint does not wait for its UPDATE's answer: the one that finds the run ended
    is answered while the shard goes on, and a later checkpoint stops the shard."""
    import time

    with engine.begin() as conn:
        root = make_institution(conn, 10)
        run_id = sample_run(conn, root)
        conn.execute(
            update(account_reports)
            .where(account_reports.c.id == run_id)
            .values(workflow_state="running", total_lines=10**6)
        )
    calls = 0
    with pytest.raises(RunStopped), checkpoints(engine, run_id) as checkpoint:
        checkpoint(1000)
        with engine.begin() as conn:
            abort_run(conn, run_id)
        # However slow the server's answer (a loaded machine), a checkpoint reads it: the
        # bound is only there so that a shard the answer never stops fails the test.
        for calls in range(1, 30_001):  # noqa: B007 - counted below
            checkpoint(1000)
            time.sleep(0.01)
    assert calls < 30_000  # stopped by a checkpoint, not only when leaving the block
    with engine.connect() as conn:  # the one checkpoint before the abort, and no other
        assert get_run(conn, run_id).current_line == 1000


@pytest.mark.skipif(lane() != "postgresql", reason="libpq's form of an UPDATE")
def test_an_update_in_libpq_form_numbers_each_parameter_once(engine: Engine) -> None:
    from sqlalchemy import bindparam, text

    from reportcard.runs.pgprogress import pg_form

    stmt = (
        update(account_reports)
        .where(account_reports.c.id == bindparam("run"))
        .values(current_line=bindparam("rows"), progress=bindparam("rows"))
    )
    form = pg_form(stmt, engine.dialect, ("rows", "run"))
    # Two parameters, the one used twice numbered once: SET ... = $1, ... = $1 WHERE ... $2.
    assert (form.sql.count(b"$1"), form.sql.count(b"$2"), b"$3" in form.sql) == (2, 1, False)
    assert form.slots == {"rows": 0, "run": 1} and len(form.params) == 2
    assert pg_form(stmt, engine.dialect, ("rows", "run")) is form  # compiled once
    with pytest.raises(ValueError, match="libpq"):
        pg_form(text("UPDATE account_reports SET progress = 100 % :run"), engine.dialect, ())
