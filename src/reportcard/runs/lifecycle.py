"""Run records: create, abort, delete, and the terminal transitions with Canvas's texts.

Every transition is one conditional UPDATE, so concurrent workers and API calls never race a
run into two states: whoever's WHERE clause still matches wins, the other sees rowcount 0.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from reportcard.clock import utcnow
from reportcard.db.tables import account_reports, report_shards
from reportcard.reports.catalog import get_report
from reportcard.runs.events import run_ended

ACTIVE_STATES = ("created", "running", "compiling")
TERMINAL_STATES = ("complete", "error", "aborted", "deleted")
ABORTED_TEXT = "Report has been aborted"
NO_FILE_TEXT = "Failed, the report failed to generate a file. Please try again."


def titleized(report_type: str) -> str:
    """Canvas's ``report_type.titleize`` ("provisioning_csv" -> "Provisioning Csv")."""
    return " ".join(w.capitalize() for w in report_type.split("_"))


def create_run(
    conn: Connection,
    *,
    account_id: int,
    root_account_id: int,
    user_id: int | None,
    report_type: str,
    parameters: dict[str, Any],
    now: datetime | None = None,
) -> int:
    now = now or utcnow()
    result = conn.execute(
        insert(account_reports).values(
            account_id=account_id,
            root_account_id=root_account_id,
            user_id=user_id,
            report_type=report_type,
            workflow_state="created",
            parameters=parameters,
            progress=0,
            created_at=now,
            updated_at=now,
        )
    )
    pk = result.inserted_primary_key
    assert pk is not None
    return int(pk[0])


def get_run(conn: Connection, run_id: int) -> Any:
    return conn.execute(select(account_reports).where(account_reports.c.id == run_id)).first()


def _cancel_shards(conn: Connection, run_id: int) -> None:
    conn.execute(
        update(report_shards)
        .where(report_shards.c.report_id == run_id, report_shards.c.state == "queued")
        .values(state="cancelled")
    )


def abort_run(conn: Connection, run_id: int, now: datetime | None = None) -> bool:
    """Abort a created, running or compiling run; False when it is in any other state."""
    now = now or utcnow()
    run = get_run(conn, run_id)
    if run is None or run.workflow_state not in ACTIVE_STATES:
        return False
    params = dict(run.parameters or {})
    params["extra_text"] = ABORTED_TEXT
    res = conn.execute(
        update(account_reports)
        .where(
            account_reports.c.id == run_id,
            account_reports.c.workflow_state.in_(ACTIVE_STATES),
        )
        .values(
            workflow_state="aborted",
            progress=100,
            parameters=params,
            message=f"Generating the report, {titleized(run.report_type)}, stopped.",
            end_at=run.end_at or now,
            updated_at=now,
        )
    )
    if res.rowcount != 1:
        return False
    _cancel_shards(conn, run_id)
    return True


def delete_run(conn: Connection, run_id: int, now: datetime | None = None) -> bool:
    """Soft delete: the record and its file stay; it vanishes from index, show and last_run."""
    now = now or utcnow()
    res = conn.execute(
        update(account_reports)
        .where(account_reports.c.id == run_id, account_reports.c.workflow_state != "deleted")
        .values(workflow_state="deleted", updated_at=now)
    )
    if res.rowcount != 1:
        return False
    _cancel_shards(conn, run_id)
    return True


def fail_run(
    conn: Connection,
    run_id: int,
    extra_text: str,
    *,
    detail: str | None = None,
    now: datetime | None = None,
) -> bool:
    """End a running or compiling run in ``error`` with Canvas's failure message."""
    now = now or utcnow()
    run = get_run(conn, run_id)
    if run is None or run.workflow_state not in ACTIVE_STATES:
        return False
    report = get_report(run.report_type)
    title = report.failure_title if report else titleized(run.report_type)
    params = dict(run.parameters or {})
    params["extra_text"] = extra_text
    res = conn.execute(
        update(account_reports)
        .where(
            account_reports.c.id == run_id,
            account_reports.c.workflow_state.in_(ACTIVE_STATES),
        )
        .values(
            workflow_state="error",
            progress=100,
            parameters=params,
            message=f"Generating the report, {title}, failed.",
            error_detail=detail or extra_text,
            end_at=now,
            updated_at=now,
        )
    )
    if res.rowcount == 1:
        _cancel_shards(conn, run_id)
        run_ended(conn, run_id)
        return True
    return False
