"""The planning step: shards stored with their priority, taken in that order, not by id."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update

from reportcard.clock import utcnow
from reportcard.db.tables import account_reports, pseudonyms, report_shards
from reportcard.reports.catalog import Part, PartQuery, Report, RunContext, get_report, register
from reportcard.runs.lifecycle import create_run, get_run
from reportcard.runs.worker import Worker
from reportcard.settings import Settings
from reportcard.storage.local import LocalStorage
from tests.databases import lane
from tests.runs.sample import _logins, make_institution, sample_run

TWO_FILES = "plan_two_files_csv"


def _first_fifty(ctx: RunContext) -> PartQuery:
    pq = _logins(ctx)
    lowest = select(func.min(pseudonyms.c.id)).scalar_subquery()
    return PartQuery(
        columns=pq.columns,
        select_from=pq.select_from,
        where=[*pq.where, pseudonyms.c.id < lowest + 50],
        key=pq.key,
    )


if get_report(TWO_FILES) is None:
    register(
        Report(
            name=TWO_FILES,
            title="Two Files",
            description="All logins, and the first fifty again (tests only).",
            parameters={},
            parts=[Part("few", _first_fifty), Part("all", _logins)],
            select_parts=lambda ctx: ["few", "all"],
            extra_text=lambda ctx: "Two;",
        )
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, shard_rows=100)


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "files")


def start(engine: Engine, root: int) -> int:
    with engine.begin() as conn:
        return create_run(
            conn,
            account_id=root,
            root_account_id=root,
            user_id=None,
            report_type=TWO_FILES,
            parameters={},
        )


def shards(engine: Engine, run_id: int) -> list[tuple[str, int, int, int]]:
    """(part, seq, priority, id) of the run's shards, in priority order."""
    s = report_shards.c
    with engine.connect() as conn:
        return [
            (r.part, r.seq, r.priority, r.id)
            for r in conn.execute(
                select(s.part, s.seq, s.priority, s.id)
                .where(s.report_id == run_id)
                .order_by(s.priority)
            )
        ]


def test_a_plan_stores_each_shards_priority_longest_first(
    engine: Engine, storage: LocalStorage, settings: Settings
) -> None:
    with engine.begin() as conn:
        root = make_institution(conn, 250)
    run_id = start(engine, root)
    assert Worker(engine, storage, settings).step()  # claims and plans
    planned = shards(engine, run_id)
    # "all": 250 rows in 3 shards (83, 83, 84), highest keys first; "few": one of 50 rows.
    assert [(part, seq) for part, seq, _, _ in planned] == [
        ("all", 2),
        ("all", 1),
        ("all", 0),
        ("few", 0),
    ]
    assert [p for _, _, p, _ in planned] == [0, 1, 2, 3]
    ids = [i for _, _, _, i in planned]
    assert ids != sorted(ids)  # stored in file order: the id says nothing of the order


def test_the_accounts_recent_runs_put_a_slow_file_first(
    engine: Engine, storage: LocalStorage, settings: Settings
) -> None:
    with engine.begin() as conn:
        root = make_institution(conn, 250)
    first = start(engine, root)
    worker = Worker(engine, storage, settings)
    while worker.step():
        pass
    assert shards(engine, first)[0][:2] == ("all", 2)  # by rows: nothing to learn from yet
    with engine.begin() as conn:  # its "few" shard took 10 s, each "all" shard 1 s
        t0 = utcnow()
        for part, seconds in (("few", 10), ("all", 1)):
            conn.execute(
                update(report_shards)
                .where(report_shards.c.report_id == first, report_shards.c.part == part)
                .values(started_at=t0, ended_at=t0 + timedelta(seconds=seconds))
            )
        assert get_run(conn, first).workflow_state == "complete"
    second = start(engine, root)
    assert worker.step()
    assert shards(engine, second)[0][:2] == ("few", 0)
    # A run that did not complete teaches nothing: by rows again.
    with engine.begin() as conn:
        conn.execute(
            update(account_reports)
            .where(account_reports.c.id.in_([first, second]))
            .values(workflow_state="error")
        )
    third = start(engine, root)
    assert worker.step()
    assert shards(engine, third)[0][:2] == ("all", 2)


def test_workers_take_shards_in_priority_order_not_by_id(
    engine: Engine, storage: LocalStorage, settings: Settings
) -> None:
    with engine.begin() as conn:
        root = make_institution(conn, 250)
    run_id = start(engine, root)
    worker = Worker(engine, storage, settings)
    assert worker.step()  # plans
    planned = shards(engine, run_id)
    # Turn the order around: the lowest priority for the first planned shard, and so on.
    with engine.begin() as conn:
        for rank, (_, _, _, shard_id) in enumerate(reversed(planned)):
            conn.execute(
                update(report_shards).where(report_shards.c.id == shard_id).values(priority=rank)
            )
    done: list[int] = []
    for _ in planned:
        assert worker.step()
        with engine.connect() as conn:
            finished = set(
                conn.execute(
                    select(report_shards.c.id).where(
                        report_shards.c.report_id == run_id, report_shards.c.state == "done"
                    )
                ).scalars()
            )
        done += sorted(finished - set(done))
    assert done == [i for _, _, _, i in reversed(planned)]
    with engine.connect() as conn:
        assert get_run(conn, run_id).workflow_state == "complete"


def test_parts_planned_at_once_give_the_ranges_planned_in_turn(
    engine: Engine, tmp_path: Path
) -> None:
    import threading

    from reportcard.runs.plan import plan_parts
    from reportcard.runs.planner import DEFAULT_PLANNER, KeyRange
    from tests.runs.sample import sample_run

    with engine.begin() as conn:
        root = make_institution(conn, 450)
        run_id = sample_run(conn, root)
        from reportcard.runs.context import build_context

        ctx = build_context(conn, get_run(conn, run_id))
    queries = [_logins(ctx), _first_fifty(ctx), _logins(ctx), _first_fifty(ctx), _logins(ctx)]
    threads: set[str] = set()

    class Recording:
        def plan(self, conn, pq, shard_rows):  # type: ignore[no-untyped-def]
            threads.add(threading.current_thread().name)
            return DEFAULT_PLANNER.plan(conn, pq, shard_rows)

    at_once = plan_parts(engine, Recording(), queries, 100)
    with engine.connect() as conn:
        in_turn = [DEFAULT_PLANNER.plan(conn, pq, 100) for pq in queries]
    assert at_once == in_turn
    assert at_once[1] == [KeyRange(at_once[0][0].lo, at_once[0][0].lo + 49, 50)]
    assert len(at_once[0]) == 5
    assert all(name.startswith("plan") for name in threads)  # the pool's threads

    class Failing:
        def plan(self, conn, pq, shard_rows):  # type: ignore[no-untyped-def]
            raise RuntimeError("bounds query failed")

    with pytest.raises(RuntimeError, match="bounds query failed"):
        plan_parts(engine, Failing(), queries, 100)


def test_a_part_with_a_shard_scale_gets_shards_that_many_times_larger(engine: Engine) -> None:
    import dataclasses

    from reportcard.runs.context import build_context
    from reportcard.runs.plan import plan_parts
    from reportcard.runs.planner import DEFAULT_PLANNER
    from tests.runs.sample import sample_run

    with engine.begin() as conn:
        root = make_institution(conn, 450)
        ctx = build_context(conn, get_run(conn, sample_run(conn, root)))
    plain = _logins(ctx)
    scaled = dataclasses.replace(plain, shard_scale=3)
    ranges = plan_parts(engine, DEFAULT_PLANNER, [plain, scaled, plain], 100)
    assert [len(r) for r in ranges] == [5, 2, 5]  # 450 rows: 100 a shard, then 300
    for part in ranges:  # each covers the same keys, every row once
        assert (part[0].lo, part[-1].hi, sum(r.rows for r in part)) == (
            ranges[0][0].lo,
            ranges[0][-1].hi,
            450,
        )


def test_a_part_false_by_its_own_terms_is_one_empty_range_without_a_query(engine: Engine) -> None:
    import dataclasses

    from sqlalchemy import false

    from reportcard.runs.context import build_context
    from reportcard.runs.plan import plan_parts
    from reportcard.runs.planner import DEFAULT_PLANNER, EMPTY_RANGE

    with engine.begin() as conn:
        root = make_institution(conn, 150)
        ctx = build_context(conn, get_run(conn, sample_run(conn, root)))
    plain = _logins(ctx)
    none = dataclasses.replace(plain, where=[false()])
    asked: list[PartQuery] = []

    class Recording:
        def plan(self, conn, pq, shard_rows):  # type: ignore[no-untyped-def]
            asked.append(pq)
            return DEFAULT_PLANNER.plan(conn, pq, shard_rows)

    ranges = plan_parts(engine, Recording(), [none, plain, none], 100)
    assert ranges[0] == ranges[2] == [EMPTY_RANGE]
    assert sum(r.rows for r in ranges[1]) == 150
    assert asked == [plain]


@pytest.mark.skipif(lane() != "postgresql", reason="PostgreSQL's parallel query")
def test_a_lone_count_uses_parallel_query_when_asked_and_leaves_its_connection_serial(
    engine: Engine,
) -> None:
    from sqlalchemy import create_engine, event, false
    from sqlalchemy.pool import StaticPool

    from reportcard.db.engine import PG_SESSION_OPTIONS, _pg_serial
    from reportcard.runs.context import build_context
    from reportcard.runs.plan import plan_parts
    from reportcard.runs.planner import DEFAULT_PLANNER

    with engine.begin() as conn:
        root = make_institution(conn, 150)
        ctx = build_context(conn, get_run(conn, sample_run(conn, root)))
    plain = _logins(ctx)
    none = PartQuery(plain.columns, plain.select_from, [false()], plain.key)
    show = "SHOW max_parallel_workers_per_gather"
    with create_engine(engine.url).connect() as conn:  # the server's own setting
        server = conn.exec_driver_sql(show).scalar()
    assert server != "0", "the test needs a server that allows parallel query"
    seen: list[str] = []

    class Recording:
        def plan(self, conn, pq, shard_rows):  # type: ignore[no-untyped-def]
            seen.append(conn.exec_driver_sql(show).scalar())
            return DEFAULT_PLANNER.plan(conn, pq, shard_rows)

    # One pooled connection with reportcard's session settings: the one the counts used is
    # the one handed out next.
    single = create_engine(
        engine.url, poolclass=StaticPool, connect_args={"options": PG_SESSION_OPTIONS}
    )
    event.listen(single, "connect", _pg_serial)
    try:
        plan_parts(single, Recording(), [none, plain, none], 100, parallel=True)
        plan_parts(single, Recording(), [plain], 100, parallel=False)
        plan_parts(single, Recording(), [plain, plain], 100, parallel=True)
        with single.connect() as conn:
            after = conn.exec_driver_sql(show).scalar()
    finally:
        single.dispose()
    assert seen == [server, "0", "0", "0"]  # only the lone count of a run asking for it
    assert after == "0"
