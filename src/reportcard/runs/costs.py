"""What a part's rows cost to write: seconds per row, learned from recent runs' shards.

Rows alone are a poor measure of a shard's time: on the ``large`` institution a provisioning
users row cost five times an enrollments row (a correlated subquery per row), so a 200,000-row
users shard ran longer than any 250,000-row enrollments shard. Every shard records its rows and
when it started and ended, so the account's last few complete runs of the same report say what
each of its parts costs per row on this database and this machine. The planner weighs
estimated rows by it (``reportcard.runs.priority``); a part never run before has no figure.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, select

from reportcard.db.tables import account_reports, report_shards

RECENT_RUNS = 5
"""How many of the account's latest complete runs of the report the figures come from."""


def seconds_per_row(
    conn: Connection, account_id: int, report_type: str, parts: Sequence[str]
) -> dict[str, float]:
    """Each named part's seconds per row in recent runs; parts with no figure are left out."""
    r, s = account_reports.c, report_shards.c
    recent = list(
        conn.execute(
            select(r.id)
            .where(
                r.account_id == account_id,
                r.report_type == report_type,
                r.workflow_state == "complete",
            )
            .order_by(r.id.desc())
            .limit(RECENT_RUNS)
        ).scalars()
    )
    if not recent or not parts:
        return {}
    totals: dict[str, list[float]] = {}
    for part, rows, started, ended in conn.execute(
        select(s.part, s.rows, s.started_at, s.ended_at).where(
            s.report_id.in_(recent), s.state == "done", s.part.in_(list(parts))
        )
    ):
        if not rows or started is None or ended is None:
            continue
        seconds = (ended - started).total_seconds()
        if seconds <= 0:
            continue
        acc = totals.setdefault(part, [0.0, 0.0])
        acc[0] += seconds
        acc[1] += rows
    return {part: secs / rows for part, (secs, rows) in totals.items()}
