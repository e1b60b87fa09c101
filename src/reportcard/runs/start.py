"""Starting a run: the checks and the duplicate guard every entry point shares.

The API, the Reports page and the CLI's direct backend all start runs here; each turns the
exceptions into its own kind of answer (a Canvas JSON error, a page message, a CLI error).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from reportcard.db.tables import account_reports
from reportcard.reports.catalog import get_report
from reportcard.reports.params import ReportInputError
from reportcard.runs.context import resolve_terms, term_value, utcnow
from reportcard.runs.duplicates import find_duplicate
from reportcard.runs.formats import output_format
from reportcard.runs.lifecycle import create_run


class UnknownReport(LookupError):
    """No report of that name (the API answers 404)."""


def check_term(conn: Connection, root_id: int, params: dict[str, Any], now: datetime) -> None:
    """Raise ReportInputError when the parameters name a term the root account lacks."""
    term = term_value(params)
    named = term is not None and str(term).strip() != "active_terms"
    if named and not resolve_terms(conn, root_id, term, now):
        message = f"invalid enrollment_term_id '{term}'"
        raise ReportInputError(message, body={"error": message})


def start_run(
    conn: Connection,
    *,
    account: Any,
    user_id: int | None,
    report: str,
    params: dict[str, Any],
    window_hours: float,
    match_params: bool = True,
) -> tuple[Any, bool]:
    """Check and create a run of ``report`` on ``account``, in the caller's transaction.

    Returns the new run's row and False, or Canvas's duplicate (an active run of the same
    report, with the same parameters when ``match_params``, started in the last
    ``window_hours``; 0 turns the guard off) and True. Raises UnknownReport, or
    ReportInputError for a bad ``format`` or a term that does not exist. The caller has
    checked the permission, commits, then tells the queue.
    """
    if get_report(report) is None:
        raise UnknownReport(report)
    output_format(params)  # parameters[format]: csv, xlsx or parquet
    root_id = int(account.root_account_id or account.id)
    check_term(conn, root_id, params, utcnow())
    if window_hours > 0:
        match = params if match_params else None
        dup = find_duplicate(conn, int(account.id), report, match, window_hours)
        if dup is not None:
            return dup, True
    run_id = create_run(
        conn,
        account_id=int(account.id),
        root_account_id=root_id,
        user_id=user_id,
        report_type=report,
        parameters=params,
    )
    return conn.execute(select(account_reports).where(account_reports.c.id == run_id)).one(), False
