"""Seconds per row of a report's parts, from the account's recent complete runs."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Connection, Engine, insert

from reportcard.clock import utcnow
from reportcard.db.tables import account_reports, report_shards
from reportcard.runs.costs import RECENT_RUNS, seconds_per_row
from tests.runs.sample import SAMPLE, make_institution, sample_run


def finished(
    conn: Connection, root: int, shards: list[tuple[str, int, float]], state: str = "complete"
) -> int:
    """A run in ``state`` whose shards (part, rows, seconds) are done."""
    run_id = sample_run(conn, root)
    conn.execute(
        account_reports.update().where(account_reports.c.id == run_id).values(workflow_state=state)
    )
    t0 = utcnow()
    for seq, (part, rows, seconds) in enumerate(shards):
        conn.execute(
            insert(report_shards).values(
                report_id=run_id,
                part=part,
                part_index=0,
                seq=seq,
                lo=1,
                hi=0,
                state="done",
                rows=rows,
                bytes=0,
                attempts=1,
                priority=seq,
                started_at=t0,
                ended_at=t0 + timedelta(seconds=seconds),
            )
        )
    return run_id


def test_seconds_per_row_over_the_recent_complete_runs(engine: Engine) -> None:
    with engine.begin() as conn:
        root = make_institution(conn, 1)
        other = make_institution(conn, 1, name="Other U")
        finished(conn, root, [("logins", 1000, 4.0), ("logins", 1000, 2.0), ("empty", 0, 1.0)])
        finished(conn, root, [("logins", 2000, 1.0)], state="error")  # not complete
        finished(conn, other, [("logins", 10, 9.0)])  # another account's
    with engine.connect() as conn:
        costs = seconds_per_row(conn, root, SAMPLE, ["logins", "empty", "absent"])
        assert seconds_per_row(conn, root, "other_report_csv", ["logins"]) == {}
        assert seconds_per_row(conn, other, SAMPLE, ["logins"]) == {"logins": 0.9}
    assert costs == {"logins": 6.0 / 2000}  # a part with no row has no figure


def test_only_the_latest_runs_count(engine: Engine) -> None:
    with engine.begin() as conn:
        root = make_institution(conn, 1)
        finished(conn, root, [("logins", 100, 100.0)])  # an old, slow run
        for _ in range(RECENT_RUNS):
            finished(conn, root, [("logins", 100, 1.0)])
    with engine.connect() as conn:
        assert seconds_per_row(conn, root, SAMPLE, ["logins"]) == {"logins": 0.01}
