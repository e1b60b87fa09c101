"""Starting a run: the checks and the duplicate guard every entry point shares.

The API, the Reports page and the CLI's direct backend all start runs here; each turns the
exceptions into its own kind of answer (a Canvas JSON error, a page message, a CLI error).

The checks that count runs (the queue limit, Canvas's duplicate guard) and the insert are one
atomic step per account: concurrent starts on the same account are serialised by a lock taken
first in the caller's write transaction. On SQLite that is the database's write lock, which
``BEGIN IMMEDIATE`` already holds (reportcard.db.engine); on PostgreSQL it is a
transaction-scoped advisory lock keyed by the account, released at commit or rollback.
Without it, twenty concurrent starts all read "4 queued" or "no duplicate" before any of them
inserted (docs/architecture.md, "Starting a run").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, text

from reportcard.clock import utcnow
from reportcard.db.tables import account_reports
from reportcard.reports.catalog import get_report
from reportcard.reports.params import ReportInputError
from reportcard.runs.context import resolve_terms, term_value
from reportcard.runs.duplicates import find_duplicate
from reportcard.runs.formats import output_format
from reportcard.runs.lifecycle import ACTIVE_STATES, create_run

# pg_advisory_xact_lock(classid, objid): the class names "reportcard run starts" (b"RCST").
_START_LOCK_CLASS = 0x52435354


class UnknownReport(LookupError):
    """No report of that name (the API answers 404)."""


class QueueFull(Exception):
    """The account already has ``limit`` or more runs created or running (the API: 429)."""

    def __init__(self, queued: int, limit: int) -> None:
        super().__init__(queued, limit)
        self.queued = queued
        self.limit = limit


def lock_starts(conn: Connection, account_id: int) -> None:
    """Serialise run starts on one account until the caller's transaction ends."""
    if conn.dialect.name == "postgresql":
        conn.execute(
            text("SELECT pg_advisory_xact_lock(:cls, :obj)"),
            {"cls": _START_LOCK_CLASS, "obj": account_id % (1 << 31)},
        )
    # SQLite: the caller's BEGIN IMMEDIATE holds the database's write lock already.


def active_runs(conn: Connection, account_id: int) -> int:
    """Runs of the account created or running (what ``max_queued_runs`` bounds)."""
    return int(
        conn.execute(
            select(func.count())
            .select_from(account_reports)
            .where(
                account_reports.c.account_id == account_id,
                account_reports.c.workflow_state.in_(ACTIVE_STATES),
            )
        ).scalar_one()
    )


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
    max_queued: int = 0,
) -> tuple[Any, bool]:
    """Check and create a run of ``report`` on ``account``, in the caller's transaction.

    Returns the new run's row and False, or Canvas's duplicate (an active run of the same
    report, with the same parameters when ``match_params``, started in the last
    ``window_hours``; 0 turns the guard off) and True. Raises UnknownReport,
    ReportInputError for a bad ``format`` or a term that does not exist, or QueueFull when
    ``max_queued`` (> 0) runs of the account are already created or running. ``conn`` must
    be in a write transaction (see the module's note on the lock). The caller has checked the
    permission, commits, then tells the queue.
    """
    if get_report(report) is None:
        raise UnknownReport(report)
    output_format(params)  # parameters[format]: csv, xlsx or parquet
    root_id = int(account.root_account_id or account.id)
    check_term(conn, root_id, params, utcnow())
    lock_starts(conn, int(account.id))
    if max_queued > 0:
        queued = active_runs(conn, int(account.id))
        if queued >= max_queued:
            raise QueueFull(queued, max_queued)
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
