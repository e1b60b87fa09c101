"""Per-table import state (``cd2_table_state``): what ``reportcard cd2 status`` shows.

``last_ts`` is the newest ``meta.ts`` ever applied to the table: the ``--since`` of the next
``dap incremental`` when the job's own ``until`` was not kept (spec §2, chaining).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, case, func, insert, select, update

from reportcard.db.cd2_tables import cd2_rows_recent, cd2_rows_tables, cd2_table_state
from reportcard.lms.cd2.apply import TableSummary


@dataclass(frozen=True)
class TableState:
    table: str
    root_account_id: int | None
    last_ts: datetime | None
    last_mode: str
    last_snapshot_at: datetime | None
    records: int
    rows_upserted: int
    rows_deleted: int
    rows_total: int
    source: str | None
    applied_at: datetime

    def as_dict(self) -> dict[str, Any]:
        def iso(d: datetime | None) -> str | None:
            return None if d is None else d.isoformat() + "Z"

        return {
            "table": self.table,
            "root_account_id": self.root_account_id,
            "last_ts": iso(self.last_ts),
            "last_mode": self.last_mode,
            "last_snapshot_at": iso(self.last_snapshot_at),
            "records": self.records,
            "rows_upserted": self.rows_upserted,
            "rows_deleted": self.rows_deleted,
            "rows_total": self.rows_total,
            "source": self.source,
            "applied_at": iso(self.applied_at),
        }


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def record(
    conn: Connection,
    summary: TableSummary,
    *,
    root_id: int,
    snapshot: bool,
    source: str | None,
) -> None:
    """Record one table's load (inside its transaction).

    ``rows_total`` (live rows of the table's bookkeeping) is counted after a snapshot, which
    read the whole table anyway, and after a table's first load; an incremental adds its
    upserts of keys without a live row and takes off its deletes, so that its cost follows its
    records, not the table.
    """
    s = cd2_table_state.c
    now = _now()
    values: dict[str, Any] = {
        "root_account_id": root_id,
        "last_mode": "snapshot" if snapshot else "incremental",
        "records": summary.records,
        "rows_upserted": summary.upserted,
        "rows_deleted": summary.deleted,
        "source": (source or "")[:255] or None,
        "applied_at": now,
    }
    if not snapshot:  # one statement: the table's state row, if any, moves on by itself
        ts = summary.max_ts
        total = s.rows_total + (summary.new_rows - summary.deleted)
        moved = {
            "last_ts": s.last_ts if ts is None else case((s.last_ts > ts, s.last_ts), else_=ts),
            "rows_total": case((total < 0, 0), else_=total),
        }
        done = conn.execute(
            update(cd2_table_state).where(s.table_name == summary.table).values(**values, **moved)
        )
        if done.rowcount:
            return
    old = conn.execute(select(s.last_ts).where(s.table_name == summary.table)).first()
    last_ts = summary.max_ts
    if old is not None and old.last_ts is not None and (last_ts is None or old.last_ts > last_ts):
        last_ts = old.last_ts
    rows = cd2_rows_tables[summary.table]
    live = select(func.count()).select_from(rows).where(rows.c.deleted.is_(False))
    r = cd2_rows_recent.c
    mine = r.cd2_table == summary.table
    if conn.execute(select(r.key).where(mine).limit(1)).first() is not None:
        # the incrementals' bookkeeping holds the newer version of its keys
        newer = select(r.key).where(mine, r.key == rows.c.key).exists()
        live = live.where(~newer)
        recent = select(func.count()).where(mine, r.deleted.is_(False)).scalar_subquery()
        live = select(live.scalar_subquery() + recent)
    # A table's first load on PostgreSQL counted its bookkeeping already (apply_staged).
    total_now = (
        summary.live_rows if summary.live_rows is not None else conn.execute(live).scalar_one()
    )
    values.update(last_ts=last_ts, rows_total=int(total_now))
    if snapshot:
        values["last_snapshot_at"] = now
    if old is None:
        conn.execute(insert(cd2_table_state).values(table_name=summary.table, **values))
    else:
        conn.execute(update(cd2_table_state).where(s.table_name == summary.table).values(**values))


def read_states(conn: Connection) -> list[TableState]:
    s = cd2_table_state.c
    rows = conn.execute(select(cd2_table_state).order_by(s.table_name)).all()
    return [
        TableState(
            table=r.table_name,
            root_account_id=r.root_account_id,
            last_ts=r.last_ts,
            last_mode=r.last_mode,
            last_snapshot_at=r.last_snapshot_at,
            records=int(r.records),
            rows_upserted=int(r.rows_upserted),
            rows_deleted=int(r.rows_deleted),
            rows_total=int(r.rows_total),
            source=r.source,
            applied_at=r.applied_at,
        )
        for r in rows
    ]


def known_roots(conn: Connection) -> list[int]:
    """Root accounts CD2 data was imported for."""
    s = cd2_table_state.c
    rows = conn.execute(
        select(s.root_account_id).where(s.root_account_id.is_not(None)).distinct()
    ).all()
    return sorted(int(r[0]) for r in rows)
