"""Starting a report run with Canvas's answers, and the time zone a run is shown in: what the
API's ``POST .../reports/:report`` and the Reports page's start button share."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, select

from reportcard.db.tables import accounts
from reportcard.reports.params import ReportInputError
from reportcard.runs.start import QueueFull, UnknownReport
from reportcard.runs.start import start_run as checked_start
from reportcard.service.errors import CanvasError, not_found
from reportcard.service.limits import queue_full_error

_ZONE = select(accounts.c.default_time_zone).where(accounts.c.id == bindparam("id"))


def root_zone(conn: Connection, account: Any) -> str:
    if account.root_account_id is None:
        return str(account.default_time_zone or "UTC")
    tz = conn.execute(_ZONE, {"id": account.root_account_id}).scalar_one()
    return str(tz or "UTC")


def start_run(
    conn: Connection,
    settings: Any,
    account: Any,
    user_id: int,
    report: str,
    params: dict[str, Any],
    sent: bool = True,
    *,
    queue_errors: bool = True,
) -> tuple[Any, bool]:
    """``runs.start.start_run`` with its errors as Canvas's answers (404, 400).

    ``sent``: the request carried ``parameters`` (the duplicate guard then compares them).
    A full queue (``max_queued_runs``) is a 429 without an audit record, or, with
    ``queue_errors=False``, QueueFull for the caller to record after its transaction.
    """
    try:
        return checked_start(
            conn,
            account=account,
            user_id=user_id,
            report=report,
            params=params,
            window_hours=settings.duplicate_window_hours,
            match_params=sent,
            max_queued=settings.max_queued_runs,
        )
    except QueueFull as exc:
        if not queue_errors:
            raise
        raise queue_full_error(exc) from exc
    except UnknownReport as exc:
        raise not_found() from exc
    except ReportInputError as exc:
        raise CanvasError(400, exc.body) from exc
