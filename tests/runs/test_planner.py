"""Planners: the equal-width default's key ranges, and a planner of one's own in its place."""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

from sqlalchemy import Connection, Engine, func, select

from reportcard.db.tables import pseudonyms, report_shards
from reportcard.reports.catalog import PartQuery, get_report
from reportcard.runs.context import build_context
from reportcard.runs.inline import run_report
from reportcard.runs.lifecycle import get_run
from reportcard.runs.planner import (
    EMPTY_RANGE,
    EqualWidthPlanner,
    KeyRange,
    share_rows,
    split_range,
)
from reportcard.runs.worker import Worker
from reportcard.settings import Settings
from reportcard.storage.local import LocalStorage
from tests.runs.sample import SAMPLE, expected_csv, file_bytes, make_institution, sample_run


def part_query(conn: Connection, run_id: int, name: str) -> PartQuery:
    report = get_report(SAMPLE)
    assert report is not None
    return report.part(name).build(build_context(conn, get_run(conn, run_id)))


def test_split_range_covers_every_key_once() -> None:
    ranges = split_range(5, 104, 100, 30)
    assert ranges[0][0] == 5 and ranges[-1][1] == 104
    keys = [k for a, b in ranges for k in range(a, b + 1)]
    assert keys == list(range(5, 105))
    assert split_range(1, 1, 0, 10) == [(1, 0)]


def test_shared_rows_add_up_and_the_odd_ones_go_to_the_highest_keys() -> None:
    assert share_rows(10, 3) == [3, 3, 4]
    assert share_rows(11, 3) == [3, 4, 4]
    assert share_rows(9, 3) == [3, 3, 3]
    assert share_rows(2, 4) == [0, 0, 1, 1]
    assert sum(share_rows(1_989_731, 8)) == 1_989_731


def test_equal_width_ranges_cover_the_part_in_key_order(engine: Engine) -> None:
    with engine.begin() as conn:
        root = make_institution(conn, 2500)
        run_id = sample_run(conn, root)
    with engine.connect() as conn:
        pq = part_query(conn, run_id, "logins")
        ranges = EqualWidthPlanner().plan(conn, pq, 1000)
        lo, hi = conn.execute(select(func.min(pseudonyms.c.id), func.max(pseudonyms.c.id))).one()
    assert len(ranges) == 3
    assert (ranges[0].lo, ranges[-1].hi) == (lo, hi)
    assert all(a.hi + 1 == b.lo for a, b in itertools.pairwise(ranges))
    assert sum(r.rows for r in ranges) == 2500  # the run's total_lines
    assert [r.rows for r in ranges] == share_rows(2500, 3)


def test_a_part_may_plan_over_a_cheaper_superset_of_its_keys(engine: Engine) -> None:
    """``bounds_key`` over ``bounds_from``: the range and the estimate come from there."""
    with engine.begin() as conn:
        root = make_institution(conn, 2500)
        other = make_institution(conn, 500, name="Other U")  # its logins: in the superset
        run_id = sample_run(conn, root)
    p = pseudonyms.alias("any_login")
    with engine.connect() as conn:
        pq = part_query(conn, run_id, "logins")
        wide = replace(pq, bounds_from=p, bounds_where=[], bounds_key=p.c.id)
        ranges = EqualWidthPlanner().plan(conn, wide, 1000)
        lo, hi, n = conn.execute(
            select(func.min(pseudonyms.c.id), func.max(pseudonyms.c.id), func.count())
        ).one()
    assert other != root and n == 3000
    assert (ranges[0].lo, ranges[-1].hi) == (lo, hi)
    assert sum(r.rows for r in ranges) == 3000 and len(ranges) == 3


def test_a_part_without_rows_or_columns_gets_one_empty_range(engine: Engine) -> None:
    with engine.begin() as conn:
        root = make_institution(conn, 0)
        run_id = sample_run(conn, root)
    with engine.connect() as conn:
        planner = EqualWidthPlanner()
        assert planner.plan(conn, part_query(conn, run_id, "logins"), 1000) == [EMPTY_RANGE]
        assert planner.plan(conn, part_query(conn, run_id, "empty"), 1000) == [EMPTY_RANGE]
    assert EMPTY_RANGE.empty and not KeyRange(1, 1, 1).empty


class Uneven:
    """A planner of its own: ranges of 1, 10, 100, ... keys, the last one open-ended."""

    def __init__(self) -> None:
        self.calls = 0

    def plan(self, conn: Connection, pq: PartQuery, shard_rows: int) -> list[KeyRange]:
        self.calls += 1
        lo, hi, count = conn.execute(
            select(func.min(pq.key), func.max(pq.key), func.count())
            .select_from(pq.select_from)
            .where(*pq.where)
        ).one()
        if not count:
            return [EMPTY_RANGE]
        out, start, width = [], int(lo), 1
        while start + width <= hi:
            out.append(KeyRange(start, start + width - 1, width))
            start, width = start + width, width * 10
        out.append(KeyRange(start, int(hi), int(hi) - start + 1))
        return out


def test_a_planner_of_ones_own_shards_the_run_and_the_file_is_the_same(
    engine: Engine, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, shard_rows=1000)
    storage = LocalStorage(tmp_path / "files")
    with engine.begin() as conn:
        root = make_institution(conn, 1500)
        run_id = sample_run(conn, root)
    planner = Uneven()
    worker = Worker(engine, storage, settings, planner=planner)
    while worker.step():
        pass
    with engine.connect() as conn:
        run = get_run(conn, run_id)
        ranges = conn.execute(
            select(report_shards.c.lo, report_shards.c.hi)
            .where(report_shards.c.report_id == run_id)
            .order_by(report_shards.c.seq)
        ).all()
    assert planner.calls == 1
    assert [hi - lo + 1 for lo, hi in ranges] == [1, 10, 100, 1000, 389]
    assert run.workflow_state == "complete"
    assert file_bytes(engine, storage, run_id) == expected_csv(root, 1, 1500)
    default = run_report(engine, storage, settings, account_id=root, report_type=SAMPLE)
    assert file_bytes(engine, storage, default.id) == file_bytes(engine, storage, run_id)
