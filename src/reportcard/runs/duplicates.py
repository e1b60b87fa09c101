"""Canvas's duplicate-run guard: an active run of the same report started in the window."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, select

from reportcard.clock import utcnow
from reportcard.db.tables import account_reports
from reportcard.runs.lifecycle import ACTIVE_STATES


def find_duplicate(
    conn: Connection, account_id: int, report_type: str, params: dict[str, Any] | None, hours: float
) -> Any:
    """The newest active run of ``report_type`` on the account started in the last ``hours``.

    With ``params`` it must have been started with the same parameters; with None any such
    run counts. None when there is none.
    """
    since = utcnow() - timedelta(hours=hours)
    rows = conn.execute(
        select(account_reports)
        .where(
            account_reports.c.account_id == account_id,
            account_reports.c.report_type == report_type,
            account_reports.c.workflow_state.in_(ACTIVE_STATES),
            account_reports.c.created_at >= since,
        )
        .order_by(account_reports.c.id.desc())
    ).all()
    for row in rows:
        if params is None or (row.parameters or {}) == params:
            return row
    return None
