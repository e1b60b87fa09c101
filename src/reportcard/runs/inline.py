"""Running a report to completion in the calling thread (tests, the CLI without a server)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from reportcard.db.tables import accounts
from reportcard.runs.lifecycle import TERMINAL_STATES, create_run, get_run
from reportcard.runs.worker import Worker
from reportcard.settings import Settings
from reportcard.storage.base import Storage


def run_report(
    engine: Engine,
    storage: Storage,
    settings: Settings,
    *,
    account_id: int,
    report_type: str,
    parameters: dict[str, Any] | None = None,
    user_id: int | None = None,
) -> Any:
    """Create a run and work it to a terminal state here; returns the run record."""
    with engine.begin() as conn:
        acct = conn.execute(select(accounts).where(accounts.c.id == account_id)).one()
        run_id = create_run(
            conn,
            account_id=account_id,
            root_account_id=int(acct.root_account_id or acct.id),
            user_id=user_id,
            report_type=report_type,
            parameters=dict(parameters or {}),
        )
    worker = Worker(engine, storage, settings)
    while True:
        with engine.connect() as conn:
            run = get_run(conn, run_id)
            conn.rollback()
        if run.workflow_state in TERMINAL_STATES:
            return run
        if not worker.step():
            worker.wake.wait(0.05)
