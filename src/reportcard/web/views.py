"""What the templates show of a report run or a SIS import: plain values, words not codes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from reportcard.db.tables import account_reports, attachments
from reportcard.reports.formatting import to_utc, zone
from reportcard.runs.lifecycle import ACTIVE_STATES

STATE_WORDS = {
    "created": "Queued",
    "running": "Running",
    "compiling": "Compiling",
    "complete": "Complete",
    "error": "Failed",
    "aborted": "Aborted",
    "deleted": "Deleted",
}
HISTORY = 10  # runs shown per report


def local_time(value: datetime | str | None, tz: str) -> str:
    if value is None:
        return ""
    return to_utc(value).astimezone(zone(tz)).strftime("%Y-%m-%d %H:%M %Z")


@dataclass(frozen=True)
class RunView:
    id: int
    report: str
    account_id: int
    state: str
    state_word: str
    active: bool
    progress: int
    current_line: int | None
    total_lines: int | None
    created: str
    ended: str
    summary: str
    error: str
    filename: str | None
    size: int | None
    expired: bool = False  # the file was removed by the retention sweep

    @property
    def base(self) -> str:
        return f"/accounts/{self.account_id}/reports/{self.report}/runs/{self.id}"

    @property
    def stopped(self) -> bool:
        """Failed or aborted: the bar says so instead of showing a (Canvas: 100%) bar."""
        return self.state in ("error", "aborted")

    @property
    def progress_text(self) -> str:
        """The share done and the lines written.

        ``total_lines`` is the planner's estimate (rows in the key ranges before the report's
        filters), so it is shown only while the run is going; a complete run's count is the
        lines its file holds, and a stopped run says where it stopped.
        """
        count = self.current_line or 0
        lines = f"{count:,} line{'' if count == 1 else 's'}"
        if self.state == "complete":
            return lines if self.current_line is not None else "100%"
        if self.stopped:
            return f"after {lines}" if self.current_line else ""  # the bar says failed
        text = f"{self.progress}%"
        if self.current_line:
            text += f" \u00b7 {lines}"
            if self.total_lines and self.current_line <= self.total_lines:
                text += f" of about {self.total_lines:,}"
        return text


def _percent(run: Any) -> int:
    """Canvas's ``progress``; while a run is active, at least its share of lines written
    (``progress`` itself moves in steps of 1000 rows); for a stopped run, where it stopped."""
    value = int(run.progress or 0)
    lines = int(run.current_line or 0)
    total = int(run.total_lines or 0)
    if run.workflow_state in ACTIVE_STATES and total and lines:
        value = max(value, min(99, lines * 100 // total))
    elif run.workflow_state in ("aborted", "error") and total:
        value = min(100, lines * 100 // total)  # where it stopped (Canvas says 100)
    return max(0, min(100, value))


def run_view(conn: Connection, run: Any, tz: str) -> RunView:
    params = run.parameters or {}
    att = None
    if run.attachment_id is not None and run.workflow_state == "complete":
        att = conn.execute(select(attachments).where(attachments.c.id == run.attachment_id)).first()
    expired = att is not None and att.workflow_state == "expired"
    if expired:
        att = None
    error = ""
    if run.workflow_state == "error":
        error = str(run.error_detail or params.get("extra_text") or run.message or "")
    summary = str(params.get("extra_text") or "") if run.workflow_state != "error" else ""
    return RunView(
        id=int(run.id),
        report=run.report_type,
        account_id=int(run.account_id),
        state=run.workflow_state,
        state_word=STATE_WORDS.get(run.workflow_state, run.workflow_state),
        active=run.workflow_state in ACTIVE_STATES,
        progress=_percent(run),
        current_line=None if run.current_line is None else int(run.current_line),
        total_lines=None if run.total_lines is None else int(run.total_lines),
        created=local_time(run.created_at, tz),
        ended=local_time(run.end_at, tz) if run.workflow_state not in ACTIVE_STATES else "",
        summary=summary,
        error=error,
        filename=None if att is None else str(att.filename),
        size=None if att is None else int(att.size),
        expired=expired,
    )


def recent_runs(conn: Connection, account_id: int, report: str, tz: str) -> list[RunView]:
    r = account_reports.c
    rows = conn.execute(
        select(account_reports)
        .where(r.account_id == account_id, r.report_type == report, r.workflow_state != "deleted")
        .order_by(r.created_at.desc(), r.id.desc())
        .limit(HISTORY)
    ).all()
    return [run_view(conn, row, tz) for row in rows]


def human_size(size: int | None) -> str:
    if size is None:
        return ""
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"
